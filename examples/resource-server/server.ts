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
 *
 * It publishes its protected resource metadata (RFC 9728) at
 * `/.well-known/oauth-protected-resource/notes` (for its resource URI
 * `…/notes`), and names that document in every 401 and 403 challenge
 * (`resource_metadata`, §5.1), so that a client that knows nothing of it
 * (an MCP client) finds iam-core from its first refused request. Given its
 * resource URI (`resource`, IAM_RESOURCE), as registered in iam-core
 * (RFC 8707), it accepts only tokens issued for it: a token for another
 * resource of the same project is `invalid_token`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRemoteJWKSet, jwtVerify } from "jose";
import {
  bearerChallenge,
  presentedToken,
  protectedResourceMetadata,
  resourceMetadataPath,
  resourceMetadataUrl,
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
  /**
   * Its resource URI as registered in iam-core (RFC 8707), which its tokens
   * must carry in `aud`; the URL clients call it by (behind a proxy, the
   * public one). Absent: `http://127.0.0.1:{port}/notes`, and tokens are not
   * checked for their audience (tokens for the project's audience pass).
   */
  resource?: string;
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
  const audience = options.resource === undefined ? {} : { audience: options.resource };
  const keys = createRemoteJWKSet(new URL(options.jwksUrl ?? `${options.issuer}/.well-known/jwks.json`));
  return async (token, requiredScopes, signIn = {}) => {
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        algorithms: ["ES256", "RS256"],
        typ: "at+jwt",
        // RFC 9068 §4, RFC 8707: a token issued for another resource is not for this one.
        ...audience,
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
      const code = err instanceof Error && "code" in err ? err.code : "";
      const audienceClaim = code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && (err as { claim?: string }).claim === "aud";
      const failure = code === "ERR_JWT_EXPIRED" ? TokenFailure.EXPIRED : audienceClaim ? TokenFailure.AUDIENCE : TokenFailure.INVALID;
      return { active: false, failure } as VerifyTokenResponse;
    }
  };
}

export async function startResourceServer(
  options: ResourceServerOptions,
): Promise<{ url: string; resource: string; close: () => Promise<void> }> {
  const verify: Verify =
    options.mode === "local"
      ? localVerifier(options)
      : createAccessTokenVerifier({
          coreUrl: options.coreUrl,
          organization: options.organization,
          project: options.project,
          ...(options.resource !== undefined ? { resource: options.resource } : {}),
        });

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
    res.end(JSON.stringify(body));
  };

  // The URL clients call, which a DPoP proof names (its htu): known once the server listens.
  let publicUrl = "";
  // RFC 9728: its resource URI, its document and where it is published; known once the server listens.
  let resource = options.resource ?? "";
  const published = () => ({
    path: resourceMetadataPath(resource),
    url: resourceMetadataUrl(resource),
    document: protectedResourceMetadata({
      resource,
      issuer: options.issuer,
      scopes: [REQUIRED_SCOPE],
      name: "Notes API",
      // The core checks DPoP proofs (remote); the local verifier refuses bound tokens.
      ...(options.mode === "local" ? {} : { dpop: "accepted" as const }),
    }),
  });
  const server = http.createServer(async (req, res) => {
    const metadata = published();
    // RFC 9728 §3.1, §3.2: GET, 200 application/json.
    if (req.method === "GET" && req.url === metadata.path) return send(res, 200, metadata.document, { "cache-control": "max-age=300" });
    const route = req.method === "GET" ? ROUTES.get(req.url ?? "") : undefined;
    if (route === undefined) return send(res, 404, { error: "not_found" });
    // A bearer token, or a DPoP-bound one with its proof (RFC 9449 §7).
    const presented = presentedToken(req.headers.authorization);
    const token = presented === undefined || presented === null ? presented : presented.token;
    const refuse = (challenge: ReturnType<typeof bearerChallenge>) =>
      send(res, challenge.status, challenge.body, { "www-authenticate": challenge.header });
    const where = { resourceMetadata: metadata.url };
    if (token === undefined) return refuse(bearerChallenge(REALM, { missing: true }, where));
    if (token === null) return refuse(bearerChallenge(REALM, { malformed: true }, where));
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
    if (!result.active) {
      return refuse(bearerChallenge(REALM, { result, requiredScopes: route.scopes, signIn: route.signIn, scheme: presented!.scheme }, where));
    }
    const notes = [`Notes of ${result.subject}`];
    send(res, 200, route.signIn === undefined ? { owner: result.subject, notes } : { owner: result.subject, notes, exported: true });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  publicUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  resource ||= `${publicUrl}/notes`;
  // A resource URI that cannot be published (a query, user info, not https) is refused at start, not at the first request.
  try {
    published();
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }
  return {
    url: publicUrl,
    resource,
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
    ...(process.env.IAM_RESOURCE !== undefined ? { resource: process.env.IAM_RESOURCE } : {}),
  });
  console.log(`notes API on ${server.url}/notes (needs scope ${REQUIRED_SCOPE}; /notes/export also a multi-factor sign-in)`);
}
