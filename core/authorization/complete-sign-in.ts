import type { MessageInitShape } from "@bufbuild/protobuf";
import type { LoginResponseSchema } from "../../gen/iam/v1/authorization_pb.js";
import { fieldSet } from "../audit/changes.js";
import { audited, party } from "../audit/record.js";
import type { Deps } from "../deps.js";
import { announceLogout } from "../logout/backchannel.js";
import { openSession } from "../sessions/session.js";
import type { AuthorizationRequestRecord, UserRecord } from "../store/types.js";
import { signIn } from "./sign-in.js";
import type { LoginContext } from "./throttle.js";

/** Where a sign-in comes from, as its session and event record it. */
export interface SignInOrigin {
  requestId: string;
  /** The browser's session cookie before the sign-in ("" when none). */
  session: string;
  clientAddress: string;
  userAgent: string;
}

/**
 * The end of every successful sign-in (a password, a password and a second
 * factor, a passkey alone, a session stepped up): opens or renews the
 * browser's session at the level proven, records SIGN_IN with it, tells the
 * clients of a session it ended, and answers what Login answers: the
 * consent page's scopes, or the way back to the client.
 */
export async function completeSignIn(
  deps: Deps,
  pending: AuthorizationRequestRecord,
  user: UserRecord,
  level: { amr: string[]; acr: string },
  origin: SignInOrigin,
  context: LoginContext,
): Promise<MessageInitShape<typeof LoginResponseSchema>> {
  const opened = await audited(
    deps,
    (store) =>
      openSession({ ...deps, store }, user, { previousCookie: origin.session, clientAddress: origin.clientAddress, userAgent: origin.userAgent }, level),
    // The session it started, by its public id (never the cookie), and how.
    (started) => ({
      chain: { organization: pending.organization, project: pending.project },
      action: "SIGN_IN",
      actor: party("user", user.id),
      target: party("user", user.id),
      clientAddress: origin.clientAddress,
      userAgent: origin.userAgent,
      changes: [fieldSet("session_id", undefined, started.session.id), fieldSet("amr", undefined, level.amr)],
    }),
  );
  announceLogout(deps, opened.ended);
  const outcome = await signIn(deps, pending, user, opened.session);
  return {
    requestId: origin.requestId,
    scopes: outcome.offered.map((p) => ({ name: p.id, description: p.description })),
    resources: outcome.resources.map((r) => ({ uri: r.uri, name: r.name })),
    client: context.client,
    projectName: context.projectName,
    redirectTo: outcome.redirectTo ?? "",
    session: { value: opened.cookie.value, maxAge: BigInt(opened.cookie.maxAge) },
  };
}
