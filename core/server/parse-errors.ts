import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";

/**
 * connect-node answers a request body it cannot decode ("parse binary: …",
 * "decompression failed", a compressed envelope it cannot open) with INTERNAL, as if the server had failed. It is the caller's input that
 * is wrong: this wrapper answers INVALID_ARGUMENT instead, in each protocol's
 * own form (Connect: HTTP 400 and a JSON error; gRPC: the grpc-status
 * trailer; gRPC-Web: the trailer frame). Every other answer passes untouched.
 */
const PARSE_FAILURE = new RegExp(
  ["parse (binary|json)", "decompression failed", "received compressed envelope"]
    .map((m) => `^${m}|^${m.replace(/ /g, "%20")}`)
    .join("|"),
);
const INTERNAL = "13";
const INVALID_ARGUMENT = "3";

export function withParseErrorsAsInvalidArgument(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (request: Parameters<UniversalHandler>[0]): Promise<UniversalServerResponse> => {
    const response = await handler(request);
    const type = new Headers(response.header).get("content-type") ?? "";
    if (response.status === 500 && type.startsWith("application/json")) return connectUnary(response);
    if (type.startsWith("application/grpc-web")) return grpcWeb(response);
    if (type.startsWith("application/grpc")) return grpc(response);
    return response;
  };
  return Object.assign(wrapped, handler);
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

async function readAll(body: UniversalServerResponse["body"]): Promise<Uint8Array> {
  if (body === undefined) return new Uint8Array();
  if (body instanceof Uint8Array) return body;
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function connectUnary(response: UniversalServerResponse): Promise<UniversalServerResponse> {
  const bytes = await readAll(response.body);
  let error: { code?: string; message?: string } | undefined;
  try {
    error = JSON.parse(Buffer.from(bytes).toString("utf8")) as typeof error;
  } catch {
    error = undefined;
  }
  if (error?.code !== "internal" || !PARSE_FAILURE.test(error.message ?? "")) return { ...response, body: once(bytes) };
  const body = Buffer.from(JSON.stringify({ code: "invalid_argument", message: error.message }));
  const header = new Headers(response.header);
  header.set("content-length", String(body.length));
  return { ...response, status: 400, header, body: once(body) };
}

function grpc(response: UniversalServerResponse): UniversalServerResponse {
  const trailer = new Headers(response.trailer);
  if (trailer.get("grpc-status") !== INTERNAL || !PARSE_FAILURE.test(trailer.get("grpc-message") ?? "")) return response;
  trailer.set("grpc-status", INVALID_ARGUMENT);
  return { ...response, trailer };
}

/** gRPC-Web carries its status in a final frame (flag 0x80) of the body; an error-only answer is that frame alone. */
function grpcWeb(response: UniversalServerResponse): UniversalServerResponse {
  const body = response.body;
  if (body === undefined || body instanceof Uint8Array) return response;
  async function* rewritten(): AsyncIterable<Uint8Array> {
    let first = true;
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      if (first && chunk[0] === 0x80) {
        const text = Buffer.from(chunk.subarray(5)).toString("latin1");
        const message = /grpc-message: ?([^\r\n]*)/.exec(text)?.[1] ?? "";
        if (/grpc-status: ?13\r?\n/.test(text) && PARSE_FAILURE.test(message)) {
          const trailer = Buffer.from(text.replace(/grpc-status: ?13/, `grpc-status: ${INVALID_ARGUMENT}`), "latin1");
          const frame = Buffer.alloc(5 + trailer.length);
          frame[0] = 0x80;
          frame.writeUInt32BE(trailer.length, 1);
          trailer.copy(frame, 5);
          first = false;
          yield frame;
          continue;
        }
      }
      first = false;
      yield chunk;
    }
  }
  return { ...response, body: rewritten() };
}
