/**
 * A server-side web application (a confidential relying party) on its own
 * loopback port: its redirect URI answers a page (the test reads the code
 * from the address the browser landed on and exchanges it itself), and its
 * back-channel logout URI (OpenID Connect Back-Channel Logout 1.0 §2.5)
 * records every delivery and answers 200, as the spec asks of a relying
 * party that logged the session out.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { ExecutionContext } from "ava";

export interface LogoutDelivery {
  contentType: string;
  /** The form's parameters, as received. */
  form: URLSearchParams;
}

export interface RelyingParty {
  origin: string;
  redirectUri: string;
  backchannelLogoutUri: string;
  deliveries: LogoutDelivery[];
  /** Resolves with the first delivery, at once if one came already; rejects after `ms`. */
  nextDelivery(ms: number): Promise<LogoutDelivery>;
}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });

export async function startRelyingParty(t: ExecutionContext): Promise<RelyingParty> {
  const deliveries: LogoutDelivery[] = [];
  const waiting: ((d: LogoutDelivery) => void)[] = [];
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://rp").pathname;
    if (req.method === "GET" && path === "/cb") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end('<!doctype html><html lang="en"><title>Acme web shop</title><h1 id="rp-signed-in">Back at the web shop</h1></html>');
      return;
    }
    if (req.method === "POST" && path === "/backchannel-logout") {
      const delivery = { contentType: req.headers["content-type"] ?? "", form: new URLSearchParams(await readBody(req)) };
      deliveries.push(delivery);
      for (const resolve of waiting.splice(0)) resolve(delivery);
      res.writeHead(200, { "cache-control": "no-store" });
      res.end();
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    redirectUri: `${origin}/cb`,
    backchannelLogoutUri: `${origin}/backchannel-logout`,
    deliveries,
    nextDelivery(ms) {
      if (deliveries.length > 0) return Promise.resolve(deliveries[0]!);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no back-channel logout delivery within ${ms} ms`)), ms);
        waiting.push((d) => (clearTimeout(timer), resolve(d)));
      });
    },
  };
}
