/**
 * Drill: a lost replica (docs/disaster-recovery.md#a-lost-replica). Two
 * replicas on one PostgreSQL database serve under load; one is lost at once
 * (SIGKILL to every process of it, as a machine that vanishes). The other
 * keeps serving: once the load balancer has taken the lost one out, no
 * request fails. A new replica started on the same database joins, and
 * serves the tokens and refresh tokens the lost one issued. (On SQLite the
 * replicas are workers of one server, and the primary replaces a lost one:
 * test/gateway/cluster.test.ts; losing the machine is losing the database:
 * docs/backup.md.)
 */
import test from "ava";
import { compiledIam } from "../helpers.js";
import { createDatabase, postgresSuite } from "../pg.js";
import { APP, loadLoop, refreshed, seed, signInAndRefresh, tokenIntrospected } from "../upgrade/_load.js";
import { active, server } from "./_drill.js";

test.before(() => compiledIam());

/** Until every pair has served `rounds` rounds, or a round after `since` failed. */
async function served(load: ReturnType<typeof loadLoop>, pairs: string[], since: number, rounds = 3): Promise<void> {
  while (!load.failures.some((f) => f.generation >= since) && pairs.some((pair) => (load.served.get(pair) ?? 0) < rounds)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

postgresSuite("lost replica drill")("postgres: a replica lost under load: the other serves on, and a new one joins and serves what the lost one issued", async (t) => {
  t.timeout(300_000);
  const db = await createDatabase();
  t.teardown(() => db.drop());
  const a = await server(t, db.url, "replica A");
  const b = await server(t, db.url, "replica B");
  await seed(a.target, a.grpc);
  const fromA = { token: await tokenIntrospected(a.target, b.target), refresh: await signInAndRefresh(a.target, b.target) };

  const load = loadLoop([a.target, b.target]);
  t.teardown(() => load.stop());
  await served(load, ["replica A→replica B", "replica B→replica A"], 0);

  // A is lost; the balancer takes it out (its health check fails), and what was in flight on it is lost with it.
  await a.kill();
  const afterLoss = await load.retarget([b.target]);
  const before = load.served.get("replica B→replica B") ?? 0;
  await served(load, ["replica B→replica B"], afterLoss, before + 5);

  // A new replica on the same database: nothing to copy, it joins at start.
  const c = await server(t, db.url, "replica C");
  const joined = await load.retarget([b.target, c.target]);
  await served(load, ["replica B→replica C", "replica C→replica B"], joined);
  t.true(await active(c.target, fromA.token, APP), "a token the lost replica issued verifies on the new one");
  await refreshed(c.target, b.target, fromA.refresh);
  await load.stop();

  const lost = load.failures.filter((f) => f.generation < afterLoss);
  t.log(`rounds (issuer→verifier): ${JSON.stringify(Object.fromEntries(load.served))}; rounds lost in flight on replica A: ${lost.length}`);
  t.deepEqual(load.failures.filter((f) => f.generation >= afterLoss).map((f) => f.message), [], "no request failed once A was taken out");
  // Before that, only A's answers failed (a connection refused or cut): never one of B's.
  t.deepEqual(lost.filter((f) => !/ECONNREFUSED|ECONNRESET|socket hang up/.test(f.message)).map((f) => f.message), []);
  t.is(await b.stop(), 0);
  t.is(await c.stop(), 0);
});
