import type { Config } from "./server/config.js";
import type { KeyRing } from "./tokens/keys.js";
import type { LogoutDeliveries } from "./logout/backchannel.js";
import type { Clock } from "./lib/clock.js";
import type { PasswordHashing } from "./lib/password.js";
import type { RateLimiter } from "./lib/rate-limit.js";
import type { Logger } from "./observe/log.js";
import type { Metrics } from "./observe/metrics.js";
import type { ProjectRef, Store } from "./store/types.js";
import type { ClientAuthenticator } from "./tokens/client-auth.js";
import type { ClientKeys } from "./tokens/client-jwks.js";
import type { ClientMetadataDocuments } from "./clients/document-fetch.js";
import type { VerifiedTokens } from "./tokens/verified-tokens.js";

/** What the RPC handlers need; built once by the composition root. */
export interface Deps {
  store: Store;
  keys: KeyRing;
  clock: Clock;
  passwords: PasswordHashing;
  clients: ClientAuthenticator;
  /** The public keys that verify clients' private_key_jwt assertions, registered or fetched (tokens/client-jwks.ts). */
  clientKeys: ClientKeys;
  /** Client ID metadata documents fetched, by URL (clients/document-fetch.ts). */
  clientMetadata: ClientMetadataDocuments;
  /** Access tokens whose signature was verified (tokens/verified-tokens.ts). */
  verifiedTokens: VerifiedTokens;
  /** Back-channel logout deliveries in flight (logout/backchannel.ts), ended at shutdown. */
  logoutDeliveries: LogoutDeliveries;
  logger: Logger;
  metrics: Metrics;
  /** Request rates: per client at the token endpoint, per address at sign-in and at client registration. */
  limits: { token: RateLimiter; login: RateLimiter; registration: RateLimiter };
  config: Pick<
    Config,
    | "baseUrl"
    | "authorizationRequestTtl"
    | "authorizationCodeTtl"
    | "pushedAuthorizationRequestTtl"
    | "sessionIdle"
    | "sessionMax"
    | "backchannelLogoutTimeout"
    | "backchannelLogoutRetries"
    | "backchannelLogoutPrivateNetworks"
    | "refreshTokenGrace"
    | "loginMaxFailuresPerUser"
    | "loginMaxFailuresPerAddress"
    | "loginFailureWindow"
    | "loginLockout"
    | "loginFailureDelayMs"
    | "auditStreamsPerCaller"
    | "auditStreamsMax"
    | "dpopNonce"
    | "registrationMaxClients"
    | "clientMetadataMaxClients"
  >;
}

const ISSUER_PATH = "/services/oauth2/";
/** Organization and project ids are unreserved URI characters (RFC 3986 §2.3), so they need no encoding. */
const ID_SEGMENT = /^[A-Za-z0-9._~-]{1,64}$/;

/** The issuer of a project: `{base_url}/services/oauth2/{organization}/{project}`. */
export function issuerOf(baseUrl: string, ref: ProjectRef): string {
  return `${baseUrl}${ISSUER_PATH}${ref.organization}/${ref.project}`;
}

/** The project an issuer names, when it is one of this server's issuers. */
export function projectOfIssuer(baseUrl: string, issuer: string): ProjectRef | undefined {
  const prefix = baseUrl + ISSUER_PATH;
  if (!issuer.startsWith(prefix)) return undefined;
  const parts = issuer.slice(prefix.length).split("/");
  if (parts.length !== 2 || !parts.every((part) => ID_SEGMENT.test(part))) return undefined;
  return { organization: parts[0]!, project: parts[1]! };
}
