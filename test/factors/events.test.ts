/**
 * The audit trail of second factors: each enrolment (FACTOR_ENROLLED, with
 * the first factor's RECOVERY_CODES_ISSUED), each use (FACTOR_VERIFIED), and
 * the SIGN_IN that follows saying how; a failed enrolment records no
 * enrolment. Removal by an administrator: test/admin/rpc-factors.test.ts.
 */
import test from "ava";
import { totpCode } from "../../core/factors/totp.js";
import type { AuditEventRecord } from "../../core/store/types.js";
import { BASE_URL, DEFAULT, type TestCore } from "../helpers.js";
import { ALICE, setup } from "../core/flow.js";
import { SoftAuthenticator } from "./_authenticator.js";
import { enrolTotp, nextStep, passwordStep, setPolicy, signInOf } from "./_flow.js";

const said = (e: AuditEventRecord) => ({ outcome: e.outcome, actor: e.actor?.id, target: e.target?.id, changes: e.changes.map((c) => [c.field, c.after]) });
const eventsOf = async (c: TestCore, action: string) =>
  (await c.core.deps.store.listAuditEvents(DEFAULT, { actions: [action] }, { after: 0, limit: 50 })).map(said);

test("an authenticator app enrolled records FACTOR_ENROLLED naming it and RECOVERY_CODES_ISSUED; its use records FACTOR_VERIFIED and a SIGN_IN with its amr", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const { requestId } = await passwordStep(c);
  const started = await c.authorization.startTotpEnrolment({ signIn: signInOf(requestId) });
  await c.authorization.finishEnrolment({ signIn: signInOf(requestId), factorId: started.factorId, totpCode: "000000" }).catch(() => undefined);
  t.deepEqual(await eventsOf(c, "FACTOR_ENROLLED"), [], "a wrong first code enrols nothing");
  await c.authorization.finishEnrolment({ signIn: signInOf(requestId), factorId: started.factorId, totpCode: totpCode(started.secret, c.clock.now()) });
  const factor = JSON.stringify({ id: started.factorId, kind: "totp", name: "Authenticator app" });
  t.deepEqual(await eventsOf(c, "FACTOR_ENROLLED"), [{ outcome: "success", actor: ALICE.id, target: ALICE.id, changes: [["factor", factor]] }]);
  t.deepEqual(await eventsOf(c, "RECOVERY_CODES_ISSUED"), [{ outcome: "success", actor: ALICE.id, target: ALICE.id, changes: [["recovery_codes", "10"]] }]);

  nextStep(c);
  const next = await passwordStep(c);
  await c.authorization.verifyFactor({ signIn: signInOf(next.requestId), totpCode: totpCode(started.secret, c.clock.now()) });
  const used = (await eventsOf(c, "FACTOR_VERIFIED")).filter((e) => e.outcome === "success");
  t.deepEqual(used, [{ outcome: "success", actor: ALICE.id, target: ALICE.id, changes: [["method", '"otp"'], ["factor", JSON.stringify(started.factorId)]] }]);
  const signIns = (await eventsOf(c, "SIGN_IN")).filter((e) => e.outcome === "success");
  t.deepEqual(signIns.map((e) => e.changes.find(([field]) => field === "amr")?.[1]), [JSON.stringify(["pwd", "otp", "mfa"]), JSON.stringify(["pwd", "otp", "mfa"])]);
});

test("a passkey registered records FACTOR_ENROLLED with its kind and name, in the transaction that stores it", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const { requestId } = await passwordStep(c);
  const { optionsJson } = await c.authorization.startPasskey({ signIn: signInOf(requestId), purpose: "register" });
  await c.authorization.finishEnrolment({ signIn: signInOf(requestId), passkeyResponse: new SoftAuthenticator(BASE_URL).register(optionsJson), name: "Desk key" });
  const [stored] = await c.core.deps.store.listFactors(DEFAULT, ALICE.id);
  t.deepEqual(await eventsOf(c, "FACTOR_ENROLLED"), [
    { outcome: "success", actor: ALICE.id, target: ALICE.id, changes: [["factor", JSON.stringify({ id: stored!.id, kind: "passkey", name: "Desk key" })]] },
  ]);
});

test("enrolment with the first factor enrolled meanwhile elsewhere records no enrolment", async (t) => {
  const c = await setup(t);
  await setPolicy(c, { required: "everyone" });
  const early = await passwordStep(c);
  await enrolTotp(c, (await passwordStep(c)).requestId);
  const { optionsJson } = await c.authorization.startPasskey({ signIn: signInOf(early.requestId), purpose: "register" }).catch(() => ({ optionsJson: "" }));
  t.is(optionsJson, "", "refused at the start");
  t.is((await eventsOf(c, "FACTOR_ENROLLED")).length, 1);
});
