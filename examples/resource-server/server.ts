/**
 * An example resource server: a tiny notes API whose routes need an iam-core
 * access token carrying the `notes.note.read` scope. `GET /notes` takes any
 * such token; `GET /notes/export`, which hands over every note at once, also
 * needs a multi-factor sign-in made in the last 15 minutes, and answers an
 * RFC 9470 step-up challenge to a token that lacks it.
 *
 *   IAM_CORE_URL=http://127.0.0.1:50051 node --import tsx examples/resource-server/server.ts
 *
 * It verifies tokens one of two ways:
 * - `remote` (the default): every request asks the core's VerifyToken. A
 *   revoked grant is refused at once; the cost is one RPC per request.
 * - `local`: the signature is checked against the project's JWKS, fetched
 *   once and cached. No call per request, but a revoked token stays usable
 *   until it expires (10 minutes by default): choose it only where that
 *   window is acceptable.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRemoteJWKSet, jwtVerify } from "jose";
import {
  bearerChallenge,
  presentedToken,
  createAccessTokenVerifier,
  type Presentation,
  MFA_ACR,
  TokenFailure,
  type SignInRequirement,
  type VerifyTokenResponse,
} from "iam-core/client";

export interface ResourceServerOptions {
  /** The core, for `remote` verification: `http://127.0.0.1:50051`. */
  coreUrl: string;
  /** The project's issuer, for `local` verification: `{base_url}/services/oauth2/{organization}/{project}`. */
  issuer: string;
  organization: string;
  project: string;
  mode?: "remote" | "local";
  /** For `local`: where the JWKS is (default `{issuer}/.well-known/jwks.json`). */
  jwksUrl?: string;
  port?: number;
}

export const REQUIRED_SCOPE = "notes.note.read";
/** What `GET /notes/export` requires of the sign-in behind a token. */
export const EXPORT_SIGN_IN: SignInRequirement = { acrValues: [MFA_ACR], maxAuthAge: 15 * 60 };
const REALM = "notes";

type Verify = (token: string, requiredScopes: string[], signIn?: SignInRequirement, presentation?: Presentation) => Promise<VerifyTokenResponse>;

/** The routes: each one's scopes and, for some, what the sign-in behind the token must have been. */
const ROUTES: ReadonlyMap<string, { scopes: string[]; signIn?: SignInRequirement }> = new Map([
  ["/notes", { scopes: [REQUIRED_SCOPE] }],
  ["/notes/export", { scopes: [REQUIRED_SCOPE], signIn: EXPORT_SIGN_IN }],
]);

/** Whether a token's claims meet a sign-in requirement: its `acr` one of those asked, its `auth_time` recent enough. */
function signInMeets(claims: Record<string, unknown>, signIn: SignInRequirement): boolean {
  const { acrValues = [], maxAuthAge } = signIn;
  if (acrValues.length > 0 && !(typeof claims.acr === "string" && acrValues.includes(claims.acr))) return false;
  if (maxAuthAge === undefined) return true;
  return typeof claims.auth_time === "number" && Date.now() / 1000 - claims.auth_time <= maxAuthAge;
}

/**
 * Local verification: signature (ES256, or RS256 for a project that chose it: the JWKS names each key's `alg`,
 * and jose uses only the key whose kid and alg the token names), issuer, expiry, RFC 9068 `typ`, the scopes,
 * and the `acr` and `auth_time` a route may require.
 */
function localVerifier(options: ResourceServerOptions): Verify {
  const keys = createRemoteJWKSet(new URL(options.jwksUrl ?? `${options.issuer}/.well-known/jwks.json`));
  return async (token, requiredScopes, signIn = {}) => {
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        algorithms: ["ES256", "RS256"],
        typ: "at+jwt",
      });
      // A DPoP-bound token needs its proof checked, which this verifier does not do: refused (RFC 9449 §7.2).
      if (payload.cnf !== undefined) return { active: false, failure: TokenFailure.DPOP_PROOF } as VerifyTokenResponse;
      const scopes = typeof payload.scope === "string" ? payload.scope.split(" ") : [];
      if (!requiredScopes.every((s) => scopes.includes(s))) {
        return { active: false, failure: TokenFailure.INSUFFICIENT_SCOPE } as VerifyTokenResponse;
      }
      if (!signInMeets(payload, signIn)) {
        return { active: false, failure: TokenFailure.INSUFFICIENT_USER_AUTHENTICATION } as VerifyTokenResponse;
      }
      return { active: true, subject: payload.sub ?? "", scopes, failure: TokenFailure.UNSPECIFIED } as VerifyTokenResponse;
    } catch (err) {
      const expired = err instanceof Error && "code" in err && err.code === "ERR_JWT_EXPIRED";
      return { active: false, failure: expired ? TokenFailure.EXPIRED : TokenFailure.INVALID } as VerifyTokenResponse;
    }
  };
}

export async function startResourceServer(
  options: ResourceServerOptions,
): Promise<{ url: string; close: () => Promise<void> }> {
  const verify: Verify =
    options.mode === "local"
      ? localVerifier(options)
      : createAccessTokenVerifier({ coreUrl: options.coreUrl, organization: options.organization, project: options.project });

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
    res.end(JSON.stringify(body));
  };

  // The URL clients call, which a DPoP proof names (its htu): known once the server listens.
  let publicUrl = "";
  const server = http.createServer(async (req, res) => {
    const route = req.method === "GET" ? ROUTES.get(req.url ?? "") : undefined;
    if (route === undefined) return send(res, 404, { error: "not_found" });
    // A bearer token, or a DPoP-bound one with its proof (RFC 9449 §7).
    const presented = presentedToken(req.headers.authorization);
    const token = presented === undefined || presented === null ? presented : presented.token;
    const refuse = (challenge: ReturnType<typeof bearerChallenge>) =>
      send(res, challenge.status, challenge.body, { "www-authenticate": challenge.header });
    if (token === undefined) return refuse(bearerChallenge(REALM, { missing: true }));
    if (token === null) return refuse(bearerChallenge(REALM, { malformed: true }));
    let result: VerifyTokenResponse;
    try {
      result = await verify(token, route.scopes, route.signIn, {
        scheme: presented!.scheme,
        dpopProof: typeof req.headers.dpop === "string" ? req.headers.dpop : "",
        method: req.method ?? "GET",
        url: `${publicUrl}${req.url ?? "/"}`,
      });
    } catch {
      // The core is unreachable: fail closed, and say it is temporary.
      return send(res, 503, { error: "temporarily_unavailable" }, { "retry-after": "1" });
    }
    if (!result.active) return refuse(bearerChallenge(REALM, { result, requiredScopes: route.scopes, signIn: route.signIn, scheme: presented!.scheme }));
    const notes = [`Notes of ${result.subject}`];
    send(res, 200, route.signIn === undefined ? { owner: result.subject, notes } : { owner: result.subject, notes, exported: true });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  publicUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// Run directly: a notes API for the default tenant.
if (import.meta.url === `file://${process.argv[1]}`) {
  const base = process.env.IAM_BASE_URL ?? "http://localhost:8080";
  const organization = process.env.IAM_ORGANIZATION ?? "iam-admins";
  const project = process.env.IAM_PROJECT ?? "iam-admins";
  const server = await startResourceServer({
    coreUrl: process.env.IAM_CORE_URL ?? "http://127.0.0.1:50051",
    issuer: `${base}/services/oauth2/${organization}/${project}`,
    organization,
    project,
    mode: process.env.VERIFY === "local" ? "local" : "remote",
    port: Number(process.env.PORT ?? 3000),
  });
  console.log(`notes API on ${server.url}/notes (needs scope ${REQUIRED_SCOPE}; /notes/export also a multi-factor sign-in)`);
}
