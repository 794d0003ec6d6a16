import { Lru } from "./cache/lru.ts";
import { GatewayError } from "./errors.ts";

// Per proxy and in memory: guessing keys needs no Redis round trip to be refused, and the
// bounded map keeps an address flood from growing it.
const windowMs = 60_000;
export const maxFailuresPerMinute = 30;
// A throttled address may still have a key looked up in PostgreSQL this often: a valid key
// that is not cached yet gets through (the SDKs retry a 429 after Retry-After), while a flood
// of checksum-valid guesses costs at most one database read per second per address.
const lookupIntervalMs = 1_000;

type Window = { start: number; failures: number; lastLookup: number };

/**
 * Too many failed authentications from one address bucket: from then until its minute passes,
 * a request that fails authentication gets 429 instead of 401. A request with a valid key is
 * never refused here: the throttle is consulted only once authentication has failed, or
 * before a database read for a key the cache does not know.
 */
export class AuthFailureThrottle {
  private readonly byBucket = new Lru<string, Window>(50_000);

  constructor(private readonly clock: () => number = Date.now) {}

  /** The 429 for a request from this bucket that failed authentication, or null for a 401. */
  limited(bucket: string): GatewayError | null {
    const now = this.clock();
    const w = this.throttled(bucket, now);
    return w ? tooMany(Math.ceil((w.start + windowMs - now) / 1000)) : null;
  }

  /** The 429 instead of a database read for an uncached key, or null to go ahead and read. */
  limitedLookup(bucket: string): GatewayError | null {
    const now = this.clock();
    const w = this.throttled(bucket, now);
    if (!w) return null;
    if (now - w.lastLookup >= lookupIntervalMs) {
      w.lastLookup = now;
      return null;
    }
    return tooMany(Math.ceil((w.lastLookup + lookupIntervalMs - now) / 1000));
  }

  recordFailure(bucket: string): void {
    const now = this.clock();
    const w = this.byBucket.get(bucket);
    if (!w || now - w.start >= windowMs)
      this.byBucket.set(bucket, { start: now, failures: 1, lastLookup: 0 });
    else w.failures++;
  }

  private throttled(bucket: string, now: number): Window | null {
    const w = this.byBucket.get(bucket);
    return w && now - w.start < windowMs && w.failures >= maxFailuresPerMinute ? w : null;
  }
}

const tooMany = (seconds: number) =>
  new GatewayError(
    "rate_limit_exceeded",
    "Rate Limit Exceeded: too many failed authentications from this address.",
    { retryAfterSeconds: Math.max(1, seconds) },
  );
