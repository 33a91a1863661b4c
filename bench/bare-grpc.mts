/**
 * The bare gRPC server of `npm run bench`: @grpc/grpc-js alone, in a process
 * of its own, answering grpc.health.v1.Health/Check (a do-nothing unary RPC)
 * and iam.v1.TokenService/VerifyToken (a canned active answer) with the
 * messages of iam-core's own protos, (de)serialized by protobuf-es. It is the
 * reference the VerifyToken target is a share of, and the do-nothing target
 * that measures what the gRPC load process can drive.
 *
 * Usage: node --import tsx bench/bare-grpc.mts   (prints the port it listens on)
 */
import * as grpc from "@grpc/grpc-js";
import { fromBinary, toBinary, type DescMethodUnary } from "@bufbuild/protobuf";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { TokenService } from "../gen/iam/v1/token_pb.js";
import { ACTIVE, SERVING } from "./canned-answers.mjs";

/** A grpc-js method definition from a protobuf-es method descriptor. */
function definition(method: DescMethodUnary): grpc.MethodDefinition<unknown, unknown> {
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m) => Buffer.from(toBinary(method.input, m as never)),
    requestDeserialize: (b) => fromBinary(method.input, b),
    responseSerialize: (m) => Buffer.from(toBinary(method.output, m as never)),
    responseDeserialize: (b) => fromBinary(method.output, b),
  };
}

const server = new grpc.Server();
server.addService({ check: definition(Health.method.check) }, { check: (_call: unknown, done: grpc.sendUnaryData<unknown>) => done(null, SERVING) });
server.addService({ verifyToken: definition(TokenService.method.verifyToken) }, { verifyToken: (_call: unknown, done: grpc.sendUnaryData<unknown>) => done(null, ACTIVE) });
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
);
process.stdout.write(`${port}\n`);
