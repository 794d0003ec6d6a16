import { lookup as dnsLookup } from "node:dns";
import { guardedLookup, type LookupFn } from "@osm/net/addresses";
import { Agent } from "undici";

export type { LookupFn };

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
      // The address rule at connect time: no socket to a refused address, whatever DNS says.
      lookup: guardedLookup(options.allowPrivate, options.lookup ?? dnsLookup),
    },
    headersTimeout: options.firstByteMs,
    bodyTimeout: options.idleMs,
    keepAliveTimeout: 30_000,
    connections: 256,
  });
}
