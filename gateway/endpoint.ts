import type { Client } from "@connectrpc/connect";
import type { Context, Next } from "koa";
import type { Health } from "../gen/grpc/health/v1/health_pb.js";
import type { AuthorizationService } from "../gen/iam/v1/authorization_pb.js";
import type { RegistrationService } from "../gen/iam/v1/registration_pb.js";
import type { TokenService } from "../gen/iam/v1/token_pb.js";
import type { Logger } from "../wire/observe.js";

/** The path of a project's endpoints: the issuer's path (core/deps.ts issuerOf). */
export const PREFIX = "/services/oauth2/:organization/:project";

/** The core's services, as the gateway calls them. */
export interface Services {
  authorization: Client<typeof AuthorizationService>;
  tokens: Client<typeof TokenService>;
  registration: Client<typeof RegistrationService>;
  health: Client<typeof Health>;
}

/** What every endpoint is given: the core to call and the little it knows of its own deployment. */
export interface EndpointDeps {
  services: Services;
  /** Public base URL, as configured. */
  baseUrl: string;
  /** Largest request body read, bytes. */
  maxBodyBytes: number;
  /** Whether cookies are Secure (the base URL is https). */
  secureCookies: boolean;
  logger: Logger;
}

/** One endpoint's handler, made from the gateway's dependencies. */
export type Endpoint = (deps: EndpointDeps) => (ctx: Context, next: Next) => Promise<void>;

/** The project named by the path. */
export function projectOf(ctx: Context): { organization: string; project: string } {
  return { organization: ctx.params.organization as string, project: ctx.params.project as string };
}

/** The project's path, as a URL path: `/services/oauth2/{organization}/{project}`. */
export function projectPath(ctx: Context): string {
  return `/services/oauth2/${encodeURIComponent(ctx.params.organization!)}/${encodeURIComponent(ctx.params.project!)}`;
}

/** The project's public URL, the realm of its authentication challenges. */
export function projectUrl(deps: EndpointDeps, ctx: Context): string {
  return `${deps.baseUrl}${projectPath(ctx)}`;
}
