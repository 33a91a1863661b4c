/**
 * PostgreSQL that cannot be written, made so for real and then made
 * writable again, with the server running throughout and the shared test
 * cluster left alone: the database turned read-only (as a demoted primary or
 * a standby behind a moved address is) with its sessions ended, and the
 * connection lost (a TCP proxy in front of the server, closed and reopened
 * on the same port). Each write meanwhile answers 503 with Retry-After at the
 * gateway and UNAVAILABLE over gRPC and leaves nothing behind; readiness and
 * gRPC health say NOT_SERVING; once the fault is lifted a probe write brings
 * everything back, and the same requests succeed.
 */
import net from "node:net";
import test, { type ExecutionContext } from "ava";
import { startTestServer } from "../helpers.js";
import { createMigratedDatabase, postgresSuite, POSTGRES_URL, query } from "../pg.js";
import { afterFault, duringFault, watched } from "./_support.js";

const maybe = postgresSuite("storage faults on PostgreSQL", test.serial);

/** A TCP proxy to `target` whose path can be cut (every connection ended, new ones refused) and restored on the same port. */
async function startProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = async () => {
    const listening = net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      client.pipe(upstream).pipe(client);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("error", () => {});
        socket.on("close", () => {
          sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
    });
    await new Promise<void>((resolve, reject) => listening.once("error", reject).listen(port, "127.0.0.1", resolve));
    port = (listening.address() as net.AddressInfo).port;
    server = listening;
  };
  const cut = async () => {
    const closing = server;
    server = undefined;
    if (closing === undefined) return;
    const closed = new Promise<void>((resolve) => closing.close(() => resolve()));
    for (const socket of sockets) socket.resetAndDestroy();
    await closed;
  };
  await listen();
  const url = new URL(target);
  url.host = `127.0.0.1:${port}`;
  return { url: url.toString(), cut, restore: listen };
}

/** A server on a database of its own, reached through a proxy; all closed and dropped at teardown. */
async function serve(t: ExecutionContext) {
  const db = await createMigratedDatabase();
  const proxy = await startProxy(new URL(db.url));
  const name = new URL(db.url).pathname.slice(1);
  t.teardown(async () => {
    await proxy.cut();
    await db.drop();
  });
  return { ...(await watched(t, await startTestServer({ config: { db: proxy.url } }))), name, proxy };
}

maybe("PostgreSQL: a database gone read-only is a storage fault, until it can be written again", async (t) => {
  t.timeout(120_000);
  const { s, token, seen, name } = await serve(t);

  await query(POSTGRES_URL, `ALTER DATABASE ${name} SET default_transaction_read_only = on`);
  // Sessions started before keep their setting: ended, the pool connects again, read-only.
  await query(POSTGRES_URL, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);
  await duringFault(t, s, token, { reason: /"reason":"(25006|57P01)"/, reads: "answered" });

  await query(POSTGRES_URL, `ALTER DATABASE ${name} RESET default_transaction_read_only`);
  // Nothing else is done: connections that met the read-only server were not kept.
  await afterFault(t, s, token, seen);
});

maybe("PostgreSQL: a lost connection is a storage fault for writes and reads, until the server can be reached again", async (t) => {
  t.timeout(120_000);
  const { s, token, seen, proxy } = await serve(t);

  await proxy.cut();
  await duringFault(t, s, token, { reason: /"reason":"(ECONNREFUSED|ECONNRESET|Connection terminated unexpectedly)"/, reads: "unavailable" });

  await proxy.restore();
  await afterFault(t, s, token, seen);
});
