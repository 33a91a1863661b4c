import test from "ava";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { expectOAuthError, obtainTokens, refreshRequest } from "../core/flow.js";
import { standardCore } from "./core-support.js";

for (const thiefFirst of [false, true]) {
  test(`a thief reusing a refresh token inside the grace window cannot keep a chain of its own (${thiefFirst ? "thief" : "owner"} refreshes first)`, async (t) => {
    const c = await standardCore(t, { refreshTokenGrace: 5 });
    const stolen = await obtainTokens(c);
    const owner = await c.tokens.token(refreshRequest(stolen.refreshToken));
    // Within the window the thief gets answers: siblings of the owner's token.
    const thief = await c.tokens.token(refreshRequest(stolen.refreshToken));
    await c.tokens.token(refreshRequest(stolen.refreshToken));
    c.clock.advance(600);

    const [first, second] = thiefFirst ? [thief, owner] : [owner, thief];
    const continued = await c.tokens.token(refreshRequest(first.refreshToken));
    t.true((await c.tokens.verifyToken({ token: continued.accessToken })).active);
    // The other sibling was superseded: presenting it is reuse, and the whole family goes.
    await expectOAuthError(t, c.tokens.token(refreshRequest(second.refreshToken)), { error: "invalid_grant" });
    for (const token of [continued.accessToken, owner.accessToken, thief.accessToken]) {
      const verified = await c.tokens.verifyToken({ token });
      t.is(verified.failure, TokenFailure.REVOKED);
    }
  });
}
