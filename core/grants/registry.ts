import { authorizationCodeGrant } from "./authorization-code.js";
import { clientCredentialsGrant } from "./client-credentials.js";
import { passwordGrant } from "./password.js";
import { refreshTokenGrant } from "./refresh-token.js";
import { tokenExchangeGrant } from "./token-exchange.js";
import type { Grant } from "./types.js";

/** Every grant the token endpoint knows, by grant_type. */
export const GRANTS: ReadonlyMap<string, Grant> = new Map(
  [authorizationCodeGrant, refreshTokenGrant, clientCredentialsGrant, passwordGrant, tokenExchangeGrant].map((grant) => [grant.grantType, grant]),
);
