import { Code, ConnectError } from "@connectrpc/connect";
import { projectOf, type Endpoint } from "../endpoint.js";
import { parseParams } from "../http.js";
import { redirectPage as renderRedirectPage } from "../pages.js";
import { errorJson, page, toWireError } from "../respond.js";

/** POSIX shell single quoting: the value reaches the command as it is, whatever it holds. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** curl's `-u` value: the client id, and the secret from the shell's $CLIENT_SECRET. */
function basicUser(clientId: string): string {
  return /^[A-Za-z0-9._~-]+$/.test(clientId) ? `"${clientId}:$CLIENT_SECRET"` : `${shellQuote(`${clientId}:`)}"$CLIENT_SECRET"`;
}

/**
 * Step 4, GET /redirect: a callback page for people following the flow by
 * hand, in the projects whose metadata names a callback client (the default
 * client's); elsewhere no such endpoint. It shows the code, or the error,
 * and the curl that exchanges the code.
 */
export const redirectPage: Endpoint = (deps) => async (ctx, next) => {
  let metadata;
  try {
    metadata = await deps.services.tokens.getServerMetadata(projectOf(ctx));
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) return next();
    return errorJson(ctx, toWireError(err, deps.logger));
  }
  const callback = metadata.callbackPage;
  if (callback === undefined) return next();
  const params = parseParams(ctx.querystring);
  // Every value is shell-quoted: the page invites pasting this into a terminal.
  const tokenCurl = [
    `curl -s -X POST ${shellQuote(metadata.tokenEndpoint)} \\`,
    `  -u ${basicUser(callback.clientId)} \\`,
    `  --data-urlencode grant_type=authorization_code \\`,
    `  --data-urlencode ${shellQuote(`code=${params.get("code")}`)} \\`,
    `  --data-urlencode ${shellQuote(`redirect_uri=${callback.redirectUri}`)}`,
  ].join("\n");
  page(
    ctx,
    200,
    renderRedirectPage({
      code: params.get("code"),
      state: params.get("state"),
      error: params.get("error"),
      errorDescription: params.get("error_description"),
      tokenCurl,
    }),
  );
};
