import type { DescService } from "@bufbuild/protobuf";
import { createClient, type HandlerContext, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Context } from "koa";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { AuditService } from "../../gen/iam/v1/audit_pb.js";

/** Where the console's calls arrive: `/admin/api/iam.v1.AdminService/CreateClient` and so on. */
export const CONSOLE_API_PREFIX = "/admin/api";

/** The largest console request read, bytes: the biggest admin request (a client with many redirect URIs) is far below. */
const MAX_REQUEST_BYTES = 64 * 1024;

type Forwarded = Record<string, (request: unknown, context: HandlerContext) => unknown>;

/**
 * The calls of one service, each passed to the core as it came: the request
 * message and the caller's `authorization` header, nothing else (no cookie,
 * no header a browser adds by itself). The core decides; its answer or its
 * refusal (code and message) goes back unchanged.
 */
function forward(service: DescService, transport: Transport): Forwarded {
  const client = createClient(service, transport) as unknown as Record<string, (request: unknown, options: object) => unknown>;
  const calls: Forwarded = {};
  for (const method of service.methods) {
    const call = client[method.localName]!;
    const options = (context: HandlerContext) => {
      const authorization = context.requestHeader.get("authorization");
      return { headers: authorization === null ? {} : { authorization }, signal: context.signal };
    };
    calls[method.localName] =
      method.methodKind === "server_streaming"
        ? async function* (request, context) {
            yield* call(request, options(context)) as AsyncIterable<unknown>;
          }
        : (request, context) => call(request, options(context));
  }
  return calls;
}

/**
 * The console's API: the AdminService and the AuditService in the Connect
 * protocol (what `@connectrpc/connect-web` speaks), forwarded to the core.
 *
 * It is safe from cross-site request forgery by construction: a call is
 * authorized by its `authorization: Bearer` header alone, which a browser
 * never adds by itself, and no cookie is read. A Connect call is a POST with
 * `content-type: application/json` (or `application/proto`), which a page of
 * another origin cannot send without a CORS preflight, and this API answers
 * none. Only the Connect protocol is accepted: gRPC and gRPC-Web callers use
 * the core's port.
 */
export function consoleApi(transport: Transport): (ctx: Context) => Promise<void> {
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(AdminService, forward(AdminService, transport));
      router.service(AuditService, forward(AuditService, transport));
    },
    requestPathPrefix: CONSOLE_API_PREFIX,
    grpc: false,
    grpcWeb: false,
    readMaxBytes: MAX_REQUEST_BYTES,
  });
  return async (ctx) => {
    ctx.set({ "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" });
    ctx.respond = false;
    await new Promise<void>((resolve) => {
      ctx.res.once("close", resolve);
      handler(ctx.req, ctx.res);
    });
  };
}
