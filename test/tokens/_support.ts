/**
 * Shared helpers of the client key tests: clients' key pairs as JWKs,
 * assertions signed with them, a ClientKeys on a clock the test moves, and a
 * client's jwks_uri on a loopback port that answers as each test scripts it,
 * counting requests and connections.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { ExecutionContext } from "ava";
import { jwtVerify, SignJWT, type JWK } from "jose";
import { ClientKeys, type KeyedClient } from "../../core/tokens/client-jwks.js";
import type { Config } from "../../core/server/config.js";
import { memoryLogger, TestClock } from "../helpers.js";

/** A client's key pair: the private key signs, the JWK is what it registers. */
export interface TestKey {
  privateKey: KeyObject;
  jwk: JWK;
}

function pair({ publicKey, privateKey }: { publicKey: KeyObject; privateKey: KeyObject }, extra: Partial<JWK>): TestKey {
  return { privateKey, jwk: { ...(publicKey.export({ format: "jwk" }) as JWK), ...extra } };
}

export const ecKey = (namedCurve: "P-256" | "P-384" | "P-521" = "P-256", extra: Partial<JWK> = {}): TestKey =>
  pair(generateKeyPairSync("ec", { namedCurve }), extra);
export const edKey = (extra: Partial<JWK> = {}): TestKey => pair(generateKeyPairSync("ed25519"), extra);

/** RSA keys take a while to make: one per size for the whole file. */
const rsaPairs = new Map<number, { publicKey: KeyObject; privateKey: KeyObject }>();
export function rsaKey(bits = 2048, extra: Partial<JWK> = {}): TestKey {
  let made = rsaPairs.get(bits);
  if (made === undefined) rsaPairs.set(bits, (made = generateKeyPairSync("rsa", { modulusLength: bits })));
  return pair(made, extra);
}

/** A JWK Set of these keys, as a client registers it. */
export const setOf = (...keys: TestKey[]): string => JSON.stringify({ keys: keys.map((k) => k.jwk) });

/** Whether an assertion signed by `signer` with `alg` verifies with `key`. */
export async function verifies(key: KeyObject, signer: TestKey, alg: string): Promise<boolean> {
  const assertion = await new SignJWT({ sub: "svc" }).setProtectedHeader({ alg }).setIssuedAt().sign(signer.privateKey);
  try {
    await jwtVerify(assertion, key, { algorithms: [alg] });
    return true;
  } catch {
    return false;
  }
}

/** The client `svc` of acme/shop with these keys. */
export function client(keys: { jwks?: string; jwksUri?: string } & Partial<Pick<KeyedClient, "id" | "dynamicallyRegistered" | "metadataDocument">>): KeyedClient {
  const { jwks, jwksUri, ...rest } = keys;
  return { organization: "acme", project: "shop", id: "svc", jwks: jwks ?? null, jwksUri: jwksUri ?? null, ...rest };
}

/** A ClientKeys as the composition root builds one, on a clock the test moves, its log kept. */
export function clientKeys(config: Partial<Pick<Config, "jwksUriTimeout" | "jwksUriPrivateNetworks" | "clientMetadataPrivateNetworks">> = {}) {
  const clock = new TestClock();
  const { logger, lines } = memoryLogger();
  const keys = new ClientKeys(clock, { jwksUriTimeout: 1, jwksUriPrivateNetworks: true, clientMetadataPrivateNetworks: false, ...config }, logger);
  return { keys, clock, lines };
}

/** A client's JWKS endpoint on a loopback port; `answer` is what it does with each request. */
export interface JwksServer {
  origin: string;
  answer: (req: IncomingMessage, res: ServerResponse) => void;
  /** Requests received, and their Accept headers and methods. */
  requests: { method: string; url: string; accept: string | undefined }[];
  connections: number;
  /** Resolves when every connection opened so far has closed. */
  allClosed(): Promise<void>;
}

/** Answers `body` (a JWK Set) with 200, and Cache-Control when given. */
export function serving(body: string, cacheControl?: string) {
  return (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { "Content-Type": "application/json", ...(cacheControl === undefined ? {} : { "Cache-Control": cacheControl }) });
    res.end(body);
  };
}

export async function jwksServer(t: ExecutionContext, answer: JwksServer["answer"]): Promise<JwksServer> {
  const sockets = new Set<Socket>();
  const closing: Promise<void>[] = [];
  const server = createServer((req, res) => {
    s.requests.push({ method: req.method ?? "", url: req.url ?? "", accept: req.headers.accept });
    s.answer(req, res);
  });
  const s: JwksServer = {
    origin: "",
    answer,
    requests: [],
    connections: 0,
    allClosed: () => Promise.all(closing).then(() => {}),
  };
  server.on("connection", (socket) => {
    s.connections++;
    sockets.add(socket);
    closing.push(new Promise((resolve) => socket.on("close", () => (sockets.delete(socket), resolve()))));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  s.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return s;
}
