import { BlockList, isIP } from "node:net";
import { expandIpv6 } from "@osm/net/addresses";

/**
 * Parses `OSM_TRUSTED_PROXIES`: comma-separated CIDRs (a bare address is its own /32 or /128).
 * Returns the list, or the first entry that is not one as a readable message.
 */
export function parseTrustedProxies(
  text: string,
): { ok: true; cidrs: string[] } | { ok: false; message: string } {
  const cidrs: string[] = [];
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const [address = "", prefix, extra] = entry.split("/");
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const bits = prefix === undefined ? max : Number(prefix);
    if (
      family === 0 ||
      extra !== undefined ||
      (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) ||
      bits > max
    ) {
      return { ok: false, message: `"${entry}" is not an IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8)` };
    }
    cidrs.push(`${address}/${bits}`);
  }
  return { ok: true, cidrs };
}

/** Where a request comes from, for counting failed authentications. */
export type ClientAddressResolver = (peer: string | undefined, forwardedFor: unknown) => string;

/**
 * Behind trusted proxies the peer is the proxy, so the client is read from X-Forwarded-For:
 * the right-most entry that is not itself a trusted proxy (entries left of it are whatever the
 * client chose to send). From any other peer the header is ignored: a client could forge it.
 */
export function clientAddressResolver(trustedCidrs: string[]): ClientAddressResolver {
  const trusted = new BlockList();
  for (const cidr of trustedCidrs) {
    const [address, bits] = cidr.split("/") as [string, string];
    trusted.addSubnet(address, Number(bits), isIP(address) === 4 ? "ipv4" : "ipv6");
  }
  const isTrusted = (ip: string) => {
    const family = isIP(ip);
    return family !== 0 && trusted.check(ip, family === 4 ? "ipv4" : "ipv6");
  };
  return (peer, forwardedFor) => {
    const direct = unmapped(peer ?? "unknown");
    if (trustedCidrs.length === 0 || !isTrusted(direct)) return direct;
    const header = Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor;
    if (typeof header !== "string") return direct;
    const hops = header
      .split(",")
      .map((hop) => unmapped(hop.trim()))
      .filter((hop) => isIP(hop) !== 0);
    for (let i = hops.length - 1; i >= 0; i--) if (!isTrusted(hops[i]!)) return hops[i]!;
    // Every hop is one of ours: the left-most is as close to the client as we can know.
    return hops[0] ?? direct;
  };
}

/** `::ffff:a.b.c.d` (how a dual-stack socket reports IPv4 peers) counts as a.b.c.d. */
function unmapped(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped ? mapped[1]! : ip;
}

/**
 * The bucket failed attempts are counted in: an IPv4 address, or an IPv6 address's /64 (one
 * subscriber usually holds a whole /64, so counting single addresses would let it rotate).
 */
export function throttleBucket(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const groups = expandIpv6(ip);
  if (!groups) return ip;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}
