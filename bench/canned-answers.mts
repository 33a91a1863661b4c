/** The answers the do-nothing gRPC targets give (bare-grpc.mts, canned-grpc.mts), the same in both. */
import { create } from "@bufbuild/protobuf";
import { HealthCheckResponseSchema, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { VerifyTokenResponseSchema } from "../gen/iam/v1/token_pb.js";

export const SERVING = create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING });

/** About the size of iam-core's answer for a client's token. */
export const ACTIVE = create(VerifyTokenResponseSchema, {
  active: true,
  subject: "svc-000",
  clientId: "svc-000",
  scopes: ["notes.note.read"],
  audience: ["http://127.0.0.1/services/oauth2/bench/api"],
  expiresAt: 4102444800n,
  issuedAt: 1767225600n,
  organization: "bench",
  project: "api",
  tokenId: "Zm9yLWEtY2FubmVkLWFuc3dlcg",
  issuer: "http://127.0.0.1/services/oauth2/bench/api",
});
