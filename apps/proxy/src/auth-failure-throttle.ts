import { Lru } from "./cache/lru.ts";
import { GatewayError } from "./errors.ts";

// Per proxy and in memory: guessing keys needs no Redis round trip to be refused, and the
// bounded map keeps an address flood from growing it.
const windowMs = 60_000;
export const maxFailuresPerMinute = 30;

type Window = { start: number; failures: number };

/** Too many failed authentications from one address: 429 until its minute passes. */
export class AuthFailureThrottle {
  private readonly byAddress = new Lru<string, Window>(50_000);

  constructor(private readonly clock: () => number = Date.now) {}

  check(address: string): void {
    const w = this.byAddress.get(address);
    const now = this.clock();
    if (!w || now - w.start >= windowMs || w.failures < maxFailuresPerMinute) return;
    throw new GatewayError(
      "rate_limit_exceeded",
      "Rate Limit Exceeded: too many failed authentications from this address.",
      { retryAfterSeconds: Math.max(1, Math.ceil((w.start + windowMs - now) / 1000)) },
    );
  }

  recordFailure(address: string): void {
    const now = this.clock();
    const w = this.byAddress.get(address);
    if (!w || now - w.start >= windowMs) this.byAddress.set(address, { start: now, failures: 1 });
    else w.failures++;
  }
}
