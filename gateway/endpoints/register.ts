import type { Context } from "koa";
import { projectOf, projectUrl, type Endpoint, type EndpointDeps } from "../endpoint.js";
import { BadRequest, mediaType, readBody } from "../http.js";
import { bearerError, errorJson, json, toWireError } from "../respond.js";

/**
 * The client registration endpoint (RFC 7591 §3) and the client
 * configuration endpoint (RFC 7592 §2), `{issuer}/register` and
 * `{issuer}/register/{client_id}`: a JSON body and a Bearer token passed to
 * the core as they came; the core decides and writes the client information
 * this answers. Never cached (RFC 7591 §3.2.1). A token's fault is 401 with
 * the Bearer challenge (RFC 6750 §3); the rest is the RFC 7591 §3.2.2 JSON
 * error. No CORS: registration is a program's call, not a page's.
 */

/** The Bearer token of the Authorization header (RFC 6750 §2.1), "" without one. */
function bearerOf(ctx: Context): string {
  const header = ctx.get("authorization").trim();
  if (header === "") return "";
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  if (match === null) throw new BadRequest(401, "the Authorization header must be a Bearer token");
  return match[1]!;
}

/** A JSON request body (RFC 7591 §3.1: `application/json`). */
async function jsonBody(deps: EndpointDeps, ctx: Context): Promise<string> {
  if (mediaType(ctx) !== "application/json") throw new BadRequest(415, "the request body must be application/json");
  return readBody(ctx, deps.maxBodyBytes);
}

/** Answers a refusal: invalid_token (and a malformed Authorization header) with the Bearer challenge. */
function refusal(deps: EndpointDeps, ctx: Context, err: unknown): void {
  const e = toWireError(err, deps.logger);
  if (e.error === "invalid_token" || (e.status === 401 && err instanceof BadRequest)) return bearerError(ctx, { ...e, error: "invalid_token" }, projectUrl(deps, ctx));
  errorJson(ctx, e);
}

function answer(ctx: Context, status: number, information: string): void {
  json(ctx, status, JSON.parse(information));
}

/** POST /register: a client registers itself (RFC 7591 §3.1); 201 with its client information. */
export const register: Endpoint = (deps) => async (ctx) => {
  try {
    const initialAccessToken = bearerOf(ctx);
    const metadata = await jsonBody(deps, ctx);
    const r = await deps.services.registration.registerClient({ ...projectOf(ctx), metadata, initialAccessToken, clientAddress: ctx.ip });
    answer(ctx, 201, r.clientInformation);
  } catch (err) {
    refusal(deps, ctx, err);
  }
};

/** GET, PUT and DELETE /register/{client_id} (RFC 7592 §2.1-2.3), with the registration access token. */
export const clientConfiguration: Endpoint = (deps) => async (ctx) => {
  try {
    const request = {
      ...projectOf(ctx),
      clientId: ctx.params.clientId as string,
      registrationAccessToken: bearerOf(ctx),
      clientAddress: ctx.ip,
    };
    if (ctx.method === "GET") {
      answer(ctx, 200, (await deps.services.registration.getClientRegistration(request)).clientInformation);
    } else if (ctx.method === "PUT") {
      const metadata = await jsonBody(deps, ctx);
      answer(ctx, 200, (await deps.services.registration.updateClientRegistration({ ...request, metadata })).clientInformation);
    } else {
      await deps.services.registration.deleteClientRegistration(request);
      ctx.set("Cache-Control", "no-store");
      ctx.status = 204;
    }
  } catch (err) {
    refusal(deps, ctx, err);
  }
};
