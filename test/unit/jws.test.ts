/**
 * lib/jws.ts: node:crypto's check of a compact JWS agrees with jose's
 * signing for every algorithm iam-core verifies (DPoP proofs, client
 * assertions), and refuses a changed input, another algorithm's signature
 * and algorithms it does not verify.
 */
import { createPublicKey } from "node:crypto";
import test from "ava";
import { CompactSign, exportJWK, generateKeyPair } from "jose";
import { VERIFIED_ALGS, verifiesJws } from "../../core/lib/jws.js";

for (const alg of VERIFIED_ALGS) {
  test(`${alg}: jose's signature verifies; a changed payload or signature does not`, async (t) => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "Ed25519" ? { crv: "Ed25519" } : {}) });
    const jws = await new CompactSign(new TextEncoder().encode('{"sub":"c"}')).setProtectedHeader({ alg }).sign(privateKey);
    const [header, payload, signature] = jws.split(".") as [string, string, string];
    const key = createPublicKey({ key: (await exportJWK(publicKey)) as never, format: "jwk" });
    const sig = Buffer.from(signature, "base64url");
    t.true(verifiesJws(alg, key, `${header}.${payload}`, sig));
    t.false(verifiesJws(alg, key, `${header}.${Buffer.from('{"sub":"d"}').toString("base64url")}`, sig));
    const changed = Buffer.from(sig);
    changed[changed.length - 1]! ^= 1;
    t.false(verifiesJws(alg, key, `${header}.${payload}`, changed));
  });
}

test("another algorithm of the same key family, and algorithms not verified, are refused", async (t) => {
  const { privateKey, publicKey } = await generateKeyPair("PS256", { extractable: true });
  const jws = await new CompactSign(new TextEncoder().encode("{}")).setProtectedHeader({ alg: "PS256" }).sign(privateKey);
  const [header, payload, signature] = jws.split(".") as [string, string, string];
  const key = createPublicKey({ key: (await exportJWK(publicKey)) as never, format: "jwk" });
  for (const alg of ["RS256", "PS384", "HS256", "none", "ES256K", "PS1024", ""]) {
    t.false(verifiesJws(alg, key, `${header}.${payload}`, Buffer.from(signature, "base64url")), alg);
  }
});
