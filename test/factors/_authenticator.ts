/**
 * A software WebAuthn authenticator for the core's tests: an ES256 key pair
 * per credential, `none` attestation, a signature counter the test controls.
 * It answers the options the core makes exactly as a browser and a security
 * key would (WebAuthn Level 2 §6.1, §6.5, §7): client data, authenticator
 * data, the COSE key, the signature. The browser tests use Chrome's own
 * virtual authenticator instead.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";

const b64u = (b: Uint8Array | Buffer) => Buffer.from(b).toString("base64url");
const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest();

/** A minimal CBOR encoder (RFC 8949): unsigned and negative integers, byte and text strings, maps. */
function cbor(value: unknown): Buffer {
  const head = (major: number, n: number): Buffer => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  };
  if (typeof value === "number") return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === "string") return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  if (value instanceof Map) return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
  throw new Error(`cannot encode ${typeof value}`);
}

export interface Credential {
  id: Buffer;
  key: KeyObject;
  cose: Buffer;
  counter: number;
}

export class SoftAuthenticator {
  readonly credentials: Credential[] = [];
  constructor(
    readonly origin: string,
    /** Flags of every answer: user verified, backup eligible/state. */
    readonly flags: { uv?: boolean; backedUp?: boolean } = { uv: true },
  ) {}

  private flagByte(attested: boolean): number {
    return 0x01 | (this.flags.uv ? 0x04 : 0) | (this.flags.backedUp ? 0x18 : 0) | (attested ? 0x40 : 0);
  }

  private authData(rpId: string, counter: number, attested?: Credential): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    const parts: Buffer[] = [sha256(rpId), Buffer.from([this.flagByte(attested !== undefined)]), count];
    if (attested !== undefined) {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(attested.id.length);
      parts.push(Buffer.alloc(16), length, attested.id, attested.cose);
    }
    return Buffer.concat(parts);
  }

  private clientData(type: string, challenge: string, origin = this.origin): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** navigator.credentials.create: a new credential for PublicKeyCredentialCreationOptionsJSON. */
  register(optionsJson: string, over: { origin?: string; rpId?: string; counter?: number } = {}): string {
    const options = JSON.parse(optionsJson) as { challenge: string; rp: { id: string } };
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const cose = cbor(new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, "base64url")], [-3, Buffer.from(jwk.y!, "base64url")]]));
    const credential: Credential = { id: randomBytes(16), key: privateKey, cose, counter: over.counter ?? 0 };
    this.credentials.push(credential);
    const attestationObject = cbor(new Map<string, unknown>([["fmt", "none"], ["attStmt", new Map()], ["authData", this.authData(over.rpId ?? options.rp.id, credential.counter, credential)]]));
    return JSON.stringify({
      id: b64u(credential.id),
      rawId: b64u(credential.id),
      type: "public-key",
      response: { clientDataJSON: b64u(this.clientData("webauthn.create", options.challenge, over.origin)), attestationObject: b64u(attestationObject), transports: ["internal"] },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    });
  }

  /** navigator.credentials.get: an assertion by `credential` (default the first) for PublicKeyCredentialRequestOptionsJSON. */
  assert(optionsJson: string, over: { credential?: Credential; origin?: string; rpId?: string; counter?: number } = {}): string {
    const options = JSON.parse(optionsJson) as { challenge: string; rpId: string };
    const credential = over.credential ?? this.credentials[0]!;
    credential.counter = over.counter ?? credential.counter + 1;
    const authenticatorData = this.authData(over.rpId ?? options.rpId, credential.counter);
    const clientDataJSON = this.clientData("webauthn.get", options.challenge, over.origin);
    const signature = sign("sha256", Buffer.concat([authenticatorData, sha256(clientDataJSON)]), credential.key);
    return JSON.stringify({
      id: b64u(credential.id),
      rawId: b64u(credential.id),
      type: "public-key",
      response: { clientDataJSON: b64u(clientDataJSON), authenticatorData: b64u(authenticatorData), signature: b64u(signature) },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    });
  }
}
