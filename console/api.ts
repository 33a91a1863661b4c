import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AdminService } from "../gen/iam/v1/admin_pb.js";
import { AuditService } from "../gen/iam/v1/audit_pb.js";
import { accessToken, refresh, signInAgain } from "./auth.js";
import { BASE_URL } from "./config.js";

/**
 * Every call carries the access token in its `authorization` header (never a
 * cookie: `credentials: "omit"`). A call refused as UNAUTHENTICATED (the token
 * expired or was revoked) is tried once more after a renewal; when renewal
 * fails too, the person signs in again and comes back with what they typed.
 * The core refused the first attempt before doing anything, so trying again
 * cannot do a change twice.
 */
const authorize: Interceptor = (next) => async (request) => {
  const send = async () => {
    const token = await accessToken();
    if (token === undefined) return signInAgain();
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
  try {
    return await send();
  } catch (err) {
    if (ConnectError.from(err).code !== Code.Unauthenticated || request.stream) throw err;
    if (!(await refresh())) return signInAgain();
    return send();
  }
};

const transport = createConnectTransport({
  baseUrl: `${BASE_URL}/admin/api`,
  interceptors: [authorize],
  fetch: (input, init) => globalThis.fetch(input, { ...init, credentials: "omit" }),
});

export const admin = createClient(AdminService, transport);
export const audit = createClient(AuditService, transport);

/** The core's own words for a refusal: its message without Connect's `[code]` prefix. */
export function messageOf(err: unknown): string {
  return ConnectError.from(err).rawMessage;
}
