// Money is integer nano-USD in a `bigint`: 9 decimal places cover the cheapest per-token
// prices exactly, and `bigint` never silently loses precision the way `Number` does past 2^53
// (about $9M in nanos).

export const NANOS_PER_USD = 1_000_000_000n;
export const USD_DECIMALS = 9;

export const MAX_SPEND_LIMIT_NANOS = 1_000_000n * NANOS_PER_USD;
export const MAX_PRICE_PER_1M_NANOS = 10_000n * NANOS_PER_USD;

// No sign, exponent, spaces or bare leading "." — the API takes only what `formatUsd` could
// have produced (plus trailing zeros, which people type: "12.50").
export const USD_PATTERN = /^\d+(\.\d{1,9})?$/;

export function parseUsd(s: string): bigint | null {
  if (!USD_PATTERN.test(s)) return null;
  const dot = s.indexOf(".");
  if (dot === -1) return BigInt(s) * NANOS_PER_USD;
  const whole = s.slice(0, dot);
  const fraction = s.slice(dot + 1).padEnd(USD_DECIMALS, "0");
  return BigInt(whole) * NANOS_PER_USD + BigInt(fraction);
}

export function formatUsd(n: bigint): string {
  // Negative amounts only appear in differences (e.g. a refund against a reservation).
  if (n < 0n) return "-" + formatUsd(-n);
  const whole = n / NANOS_PER_USD;
  const fraction = n % NANOS_PER_USD;
  if (fraction === 0n) return whole.toString();
  const digits = fraction.toString().padStart(USD_DECIMALS, "0").replace(/0+$/, "");
  return whole.toString() + "." + digits;
}
