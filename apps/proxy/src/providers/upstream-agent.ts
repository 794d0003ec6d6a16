import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP } from "node:net";
import { isPrivateAddress } from "@osm/policy/addresses";
import { Agent } from "undici";

export type LookupFn = typeof dnsLookup;

/**
 * The address rule enforced where it matters, at connect time: every address a provider's host
 * resolves to is checked before a socket is opened, so a DNS answer that changed after the
 * provider was registered cannot point the gateway at a private network.
 */
export function guardedLookup(allowPrivate: boolean, resolve: LookupFn = dnsLookup): LookupFn {
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
          new Error(`upstream host ${hostname} resolves to a private address`),
          {
            code: "EPRIVATEUPSTREAM",
          },
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

export function isRefusedLiteral(hostname: string, allowPrivate: boolean): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return !allowPrivate && isIP(host) !== 0 && isPrivateAddress(host);
}

export function createUpstreamAgent(options: {
  allowPrivate: boolean;
  connectMs: number;
  firstByteMs: number;
  idleMs: number;
  lookup?: LookupFn;
}): Agent {
  return new Agent({
    connect: {
      timeout: options.connectMs,
      lookup: guardedLookup(options.allowPrivate, options.lookup),
    },
    headersTimeout: options.firstByteMs,
    bodyTimeout: options.idleMs,
    keepAliveTimeout: 30_000,
    connections: 256,
  });
}
