/**
 * The do-nothing gRPC target of `npm run bench`: node:http2 alone answering
 * each unary call with a canned, valid gRPC answer (HEADERS, one framed
 * message, the grpc-status trailer): SERVING for grpc.health.v1.Health/Check,
 * an active answer for iam.v1.TokenService/VerifyToken. No gRPC library and
 * no parsing of the request, so it costs less per call than any gRPC server;
 * driving it with a gRPC row's own load process shows what that load process
 * can drive at most: its ceiling. One process.
 *
 * Usage: node --import tsx bench/canned-grpc.mts   (prints the port it listens on)
 */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { toBinary } from "@bufbuild/protobuf";
import { HealthCheckResponseSchema } from "../gen/grpc/health/v1/health_pb.js";
import { VerifyTokenResponseSchema } from "../gen/iam/v1/token_pb.js";
import { ACTIVE, SERVING } from "./canned-answers.mjs";
import { grpcFrame } from "./h2load.mjs";

// The same answers as the bare grpc-js server's (bench/canned-answers.mts), serialized once.
const ANSWERS = new Map<string, Buffer>([
  ["/grpc.health.v1.Health/Check", grpcFrame(toBinary(HealthCheckResponseSchema, SERVING))],
  ["/iam.v1.TokenService/VerifyToken", grpcFrame(toBinary(VerifyTokenResponseSchema, ACTIVE))],
]);

const server = http2.createServer();
server.on("stream", (stream, headers) => {
  const answer = ANSWERS.get(String(headers[":path"]));
  stream.on("error", () => {});
  // Read the request to its end (and drop it), then answer.
  stream.resume();
  stream.once("end", () => {
    if (stream.destroyed) return;
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers(answer === undefined ? { "grpc-status": "12", "grpc-message": "not canned" } : { "grpc-status": "0" }));
    stream.end(answer);
  });
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
