import { isIPv4, isIPv6 } from "node:net";

/**
 * Which hosts a server-side request may not reach by default: the machine
 * itself, the networks behind it, and addresses with no single public
 * destination. What an administrator of one tenant registers must not become
 * a request to the operator's sidecars, metadata service or databases.
 */

/** Why an address is not a public unicast one. */
export type NonPublicKind = "unspecified" | "loopback" | "private" | "shared" | "link-local" | "unique-local" | "multicast" | "reserved";

const PHRASE: Record<NonPublicKind, string> = {
  unspecified: "an unspecified address",
  loopback: "a loopback address",
  private: "a private address",
  shared: "a shared (carrier-grade NAT) address",
  "link-local": "a link-local address",
  "unique-local": "a unique-local address",
  multicast: "a multicast address",
  reserved: "a reserved address",
};

/** "a loopback address", as a refusal says it. */
export const describeKind = (kind: NonPublicKind): string => PHRASE[kind];

function ipv4Bytes(text: string): number[] {
  return text.split(".").map(Number);
}

/** The 16 bytes of a valid IPv6 address (with a dotted IPv4 tail or not, a zone id dropped). */
function ipv6Bytes(text: string): number[] {
  let s = text.replace(/%.*$/, "");
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted !== null) {
    const [a, b, c, d] = ipv4Bytes(dotted[2]!) as [number, number, number, number];
    s = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split("::") as [string, string | undefined];
  const groups = (part: string | undefined) => (part === undefined || part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const front = groups(head);
  const back = groups(tail);
  const hextets = tail === undefined ? front : [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  return hextets.flatMap((h) => [h >> 8, h & 0xff]);
}

/** RFC 6890 and the IANA special-purpose registries, for the IPv4 ranges that matter here. */
function ipv4Kind([a, b, c]: number[]): NonPublicKind | undefined {
  if (a === 0) return "unspecified"; // 0.0.0.0/8, "this network": connecting to 0.0.0.0 reaches the host itself
  if (a === 127) return "loopback";
  if (a === 10 || (a === 172 && b! >= 16 && b! <= 31) || (a === 192 && b === 168)) return "private"; // RFC 1918
  if (a === 100 && b! >= 64 && b! <= 127) return "shared"; // RFC 6598
  if (a === 169 && b === 254) return "link-local"; // RFC 3927: cloud metadata services live here
  if (a === 192 && b === 0 && c === 0) return "reserved"; // RFC 6890 §2.2.2
  if (a === 198 && (b === 18 || b === 19)) return "reserved"; // RFC 2544, benchmarking
  if (a! >= 224 && a! <= 239) return "multicast";
  if (a! >= 240) return "reserved"; // including 255.255.255.255
  return undefined;
}

function ipv6Kind(bytes: number[]): NonPublicKind | undefined {
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((x) => x === 0);
  const v4 = (at: number) => ipv4Kind(bytes.slice(at, at + 4));
  if (zeros(0, 16)) return "unspecified";
  if (zeros(0, 15) && bytes[15] === 1) return "loopback";
  // Forms that carry an IPv4 address, and reach it: mapped (::ffff:a.b.c.d),
  // translated (::ffff:0:a.b.c.d, RFC 2765 §2.1), compatible (::a.b.c.d),
  // NAT64 (64:ff9b::/96, RFC 6052), 6to4 (2002::/16).
  if (zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return v4(12);
  if (zeros(0, 8) && bytes[8] === 0xff && bytes[9] === 0xff && zeros(10, 12)) return v4(12);
  if (zeros(0, 12)) return v4(12);
  // 64:ff9b:1::/48 (RFC 8215), a network's own NAT64 prefix, holds its IPv4 address anywhere: reserved, as any other.
  if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b) return zeros(4, 12) ? v4(12) : "reserved";
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return v4(2);
  if (bytes[0] === 0x20 && bytes[1] === 0x01 && bytes[2] === 0 && bytes[3] === 0) return "reserved"; // Teredo: the IPv4 inside is hidden
  if (bytes[0] === 0x01 && bytes[1] === 0x00 && zeros(2, 8)) return "reserved"; // RFC 6666, discard
  if (bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80) return "link-local"; // fe80::/10
  if (bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0xc0) return "private"; // fec0::/10, site-local (deprecated, still routed inside sites)
  if ((bytes[0]! & 0xfe) === 0xfc) return "unique-local"; // fc00::/7, RFC 4193
  if (bytes[0] === 0xff) return "multicast";
  return undefined;
}

/** What an IP address (v4 or v6, as text) is when it is not public unicast; undefined for a public one or a name. */
export function nonPublicKind(address: string): NonPublicKind | undefined {
  if (isIPv4(address)) return ipv4Kind(ipv4Bytes(address));
  if (isIPv6(address.replace(/%.*$/, ""))) return ipv6Kind(ipv6Bytes(address));
  return undefined;
}

/** `localhost` and every name under it (RFC 6761 §6.3), a trailing dot or not: always the machine itself. */
export function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  return name === "localhost" || name.endsWith(".localhost");
}

/**
 * Why a URL's host (URL.hostname: IPv6 in brackets) is not a public one, as
 * a phrase ("127.0.0.1 is a loopback address"); undefined for an IP literal
 * of a public address or for a name, whose addresses only resolving tells.
 */
export function nonPublicHost(hostname: string): string | undefined {
  if (isLocalhostName(hostname)) return `${hostname} is a loopback name`;
  const address = hostname.replace(/^\[(.*)\]$/, "$1");
  const kind = nonPublicKind(address);
  return kind === undefined ? undefined : `${hostname} is ${describeKind(kind)}`;
}

/**
 * Whether a URL's host (URL.hostname: IPv6 in brackets) is the user's own
 * machine as redirect URIs and resource URIs name it: `localhost`, an IPv4
 * loopback literal, or `[::1]` (RFC 8252 §7.3). What may use plain http.
 */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}
