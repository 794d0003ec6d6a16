/**
 * How long the supervisor waits before restarting a crashed app: doubling from `firstMs` up to
 * `maxMs`. A crash loop (bad config, a dependency away) backs off instead of spinning; an app
 * that stayed up at least `stableAfterMs` before crashing starts again from `firstMs`.
 */
export type BackoffPolicy = { firstMs: number; maxMs: number; stableAfterMs: number };

export const defaultBackoff: BackoffPolicy = { firstMs: 500, maxMs: 30_000, stableAfterMs: 30_000 };

/** The delay before restart number `consecutive` (1 for the first crash after a stable run). */
export function restartDelayMs(policy: BackoffPolicy, consecutive: number): number {
  const exponent = Math.max(0, consecutive - 1);
  // Capped before Math.pow overflows into Infinity after very many crashes.
  if (exponent >= 31) return policy.maxMs;
  return Math.min(policy.maxMs, policy.firstMs * 2 ** exponent);
}

/** The restart count after a crash, given how long the process had been up (ms). */
export function nextConsecutive(policy: BackoffPolicy, previous: number, upMs: number): number {
  return upMs >= policy.stableAfterMs ? 1 : previous + 1;
}
