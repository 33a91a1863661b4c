/**
 * Drill: a leaked signing key (docs/disaster-recovery.md#a-leaked-signing-key).
 * While the server runs, `iam key rotate ORG PROJECT --retire-immediately` on
 * its database: every worker refuses the tokens the old keys signed once the
 * change reaches it (introspection says inactive, the JWKS no longer holds them),
 * new tokens are signed by the new keys and verify, and a refresh token
 * issued before gets tokens of the new key.
 */
import test from "ava";
import { decodeProtectedHeader } from "jose";
import { iam } from "../cli/_support.js";
import { compiledIam } from "../helpers.js";
import { APP, refreshed, seed, signInAndRefresh, tokenIntrospected } from "../upgrade/_load.js";
import { active, jwksKids, onBothStores, retiredEverywhere, server } from "./_drill.js";

test.before(() => compiledIam());

onBothStores("a leaked signing key rotated and retired at once: what it signed is refused by every worker, new tokens verify", async (t, db) => {
  t.timeout(300_000);
  const s = await server(t, db, "server");
  await seed(s.target, s.grpc);
  const leaked = await tokenIntrospected(s.target, s.target);
  const refreshToken = await signInAndRefresh(s.target, s.target);
  const leakedKid = decodeProtectedHeader(leaked).kid!;
  t.true((await jwksKids(s.target)).includes(leakedKid));

  const rotated = iam(db, ["key", "rotate", "iam-admins", "iam-admins", "--retire-immediately", "--json"]);
  t.is(rotated.code, 0, rotated.stderr);
  const answer = JSON.parse(rotated.stdout) as { kids: string[]; retiredKids: string[] };
  t.true(answer.retiredKids.includes(leakedKid));
  const human = iam(db, ["key", "rotate", "iam-admins", "iam-admins", "--retire-immediately"]);
  t.regex(human.stdout, /retired, out of the JWKS and verifying nothing from now on/);
  const current = (JSON.parse(iam(db, ["key", "rotate", "iam-admins", "iam-admins", "--retire-immediately", "--json"]).stdout) as { kids: string[] }).kids;

  await retiredEverywhere(s.target, leaked, APP, current);
  t.false(await active(s.target, leaked, APP), "the leaked key's token is refused");
  t.deepEqual(await jwksKids(s.target), [...current].sort(), "only the new keys are published");
  const fresh = await tokenIntrospected(s.target, s.target);
  t.true(current.includes(decodeProtectedHeader(fresh).kid!), "new tokens are the new key's");
  await refreshed(s.target, s.target, refreshToken);
  t.is(await s.stop(), 0);
});
