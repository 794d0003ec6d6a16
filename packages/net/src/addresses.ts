import type { LookupAddress, lookup } from "node:dns";
import { isIP } from "node:net";

// Pure classification of IP literals for the upstream address rule (SSRF): loopback, private,
// link-local, unique-local, CGNAT, multicast and unspecified addresses are refused unless the
// operator allows private upstreams. `node:net`'s isIP is a pure parser, no I/O.

function ipv4Parts(ip: string): number[] | null {
  const parts = ip.split(".").map(Number);
  return parts.length === 4 && parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 255)
    ? parts
    : null;
}

function isPrivateIpv4(ip: string): boolean {
  const p = ipv4Parts(ip);
  if (!p) return true;
  const [a, b] = p as [number, number, number, number];
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && p[2] === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224
  );
}

/** The eight 16-bit groups of an IPv6 literal (zone dropped), or null if it is not one. */
export function expandIpv6(ip: string): number[] | null {
  const zoneless = ip.split("%")[0]!;
  let tail: number[] = [];
  let text = zoneless;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const p = ipv4Parts(v4[1]!);
    if (!p) return null;
    tail = [(p[0]! << 8) | p[1]!, (p[2]! << 8) | p[3]!];
    text = text.slice(0, -v4[1]!.length) + (text.endsWith("::" + v4[1]) ? "" : "0");
    if (text.endsWith(":0")) text = text.slice(0, -2);
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const parse = (s: string) => (s ? s.split(":").map((h) => Number.parseInt(h, 16)) : []);
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const missing = 8 - tail.length - left.length - right.length;
  if (rest === undefined && missing !== 0) return null;
  const groups = [...left, ...new Array(Math.max(0, missing)).fill(0), ...right, ...tail];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff)
    ? groups
    : null;
}

function isPrivateIpv6(ip: string): boolean {
  const g = expandIpv6(ip);
  if (!g) return true;
  const [g0, , , , , g5, g6, g7] = g as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (g.every((x) => x === 0)) return true; // ::
  if (g.slice(0, 7).every((x) => x === 0) && g7 === 1) return true; // ::1
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible forms carry an IPv4 address.
  if (g.slice(0, 5).every((x) => x === 0) && (g5 === 0xffff || g5 === 0)) {
    return isPrivateIpv4(`${g6 >> 8}.${g6 & 0xff}.${g7 >> 8}.${g7 & 0xff}`);
  }
  if ((g0 & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((g0 & 0xffc0) === 0xfe80) return true; // fe80::/10 link local
  if ((g0 & 0xffc0) === 0xfec0) return true; // fec0::/10 site local (deprecated, still routed inside sites)
  // 2002::/16 6to4 carries an IPv4 address in its next 32 bits; a relay would deliver to it, so
  // it is judged as that address (public 6to4 hosts stay reachable).
  if (g0 === 0x2002) {
    const [hi, lo] = [g[1]!, g[2]!];
    return isPrivateIpv4(`${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`);
  }
  if ((g0 & 0xff00) === 0xff00) return true; // multicast
  if (g0 === 0x64 && g[1] === 0xff9b) return true; // NAT64 can reach private IPv4
  return false;
}

/** True for any address an upstream must not resolve to unless private upstreams are allowed. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return isPrivateIpv4(ip);
  if (family === 6) return isPrivateIpv6(ip);
  return true;
}

export type LookupFn = typeof lookup;

/**
 * Wraps a DNS resolver (the caller passes node:dns's lookup) so that every address a host
 * resolves to is checked before a socket is opened: the address rule enforced at connect time,
 * where a DNS answer that changed after a URL was registered cannot slip past it.
 * `what` names the host in the error ("upstream", "webhook").
 */
export function guardedLookup(
  allowPrivate: boolean,
  resolve: LookupFn,
  what = "upstream",
): LookupFn {
  const guarded = (hostname: string, options: unknown, callback: unknown) => {
    const cb = (typeof options === "function" ? options : callback) as (
      err: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void;
    const opts = (typeof options === "function" ? {} : (options ?? {})) as { all?: boolean };
    resolve(hostname, { all: true }, (err, addresses) => {
      if (err) return cb(err, []);
      const list = addresses as LookupAddress[];
      if (!allowPrivate && (list.length === 0 || list.some((a) => isPrivateAddress(a.address)))) {
        const refused = Object.assign(
          new Error(`${what} host ${hostname} resolves to a loopback or private address`),
          { code: "EPRIVATEUPSTREAM" },
        );
        return cb(refused, []);
      }
      if (opts.all) return cb(null, list);
      const first = list[0]!;
      cb(null, first.address, first.family);
    });
  };
  return guarded as unknown as LookupFn;
}

/** A literal IP host never goes through a lookup: the same rule, applied to the literal. */
export function isRefusedLiteral(hostname: string, allowPrivate: boolean): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return !allowPrivate && isIP(host) !== 0 && isPrivateAddress(host);
}
