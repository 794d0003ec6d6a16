import { createHash } from "node:crypto";
import type { RedisClient } from "@osm/redis/connect";

// Failures are counted per (email, address) and per address in a fixed 15-minute window. The
// per-address ceiling is higher so that one office behind a NAT can still work, and no limit
// is global: an attacker elsewhere cannot lock the owner out.
const windowSeconds = 15 * 60;
export const maxFailuresPerAccountAndAddress = 10;
export const maxFailuresPerAddress = 30;

export type ThrottleState = { limited: false } | { limited: true; retryAfterSeconds: number };

/** The two counters of one attempt; the address is the hash tag of both (one cluster slot). */
export function loginThrottleKeys(prefix: string, email: string, address: string) {
  const emailHash = createHash("sha256").update(email).digest("hex").slice(0, 32);
  const tag = `${prefix}login:{${address}}`;
  return { pair: `${tag}:pair:${emailHash}`, address: `${tag}:addr` };
}

export function createLoginThrottle(redis: RedisClient, prefix: string) {
  const keys = (email: string, address: string) => loginThrottleKeys(prefix, email, address);
  return {
    /**
     * Counts this sign-in attempt and says whether it may go on. The attempt is counted before
     * the password is checked, atomically, so a burst of parallel guesses cannot all pass a
     * check made before any of them failed; a successful sign-in gives its attempt back.
     */
    async attempt(email: string, address: string): Promise<ThrottleState> {
      const k = keys(email, address);
      const results =
        (await redis
          .multi()
          .incr(k.pair)
          .expire(k.pair, windowSeconds, "NX")
          .incr(k.address)
          .expire(k.address, windowSeconds, "NX")
          .ttl(k.pair)
          .ttl(k.address)
          .exec()) ?? [];
      const [pair, , addr, , pairTtl, addrTtl] = results.map(([, value]) => value) as [
        number,
        unknown,
        number,
        unknown,
        number,
        number,
      ];
      const overPair = Number(pair) > maxFailuresPerAccountAndAddress;
      const overAddress = Number(addr) > maxFailuresPerAddress;
      if (!overPair && !overAddress) return { limited: false };
      const ttl = Math.max(overPair ? Number(pairTtl) : 0, overAddress ? Number(addrTtl) : 0);
      return { limited: true, retryAfterSeconds: Math.max(1, ttl) };
    },
    /** A successful sign-in: the account's failures from this address are forgiven. */
    async succeeded(email: string, address: string): Promise<void> {
      const k = keys(email, address);
      await redis.eval(
        "redis.call('del', KEYS[1]) if redis.call('exists', KEYS[2]) == 1 then redis.call('decr', KEYS[2]) end",
        2,
        k.pair,
        k.address,
      );
    },
  };
}
export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
