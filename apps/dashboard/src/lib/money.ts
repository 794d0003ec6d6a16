import { NANOS_PER_USD, parseUsd } from "@osm/policy/money";

const grouped = (whole: bigint) => whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");

function roundTo(nanos: bigint, unit: bigint): bigint {
  return (nanos + unit / 2n) / unit;
}

/**
 * A decimal USD string from the API as people read it, by integer arithmetic only: cents from a
 * cent up, six decimals below (per-request costs are fractions of a cent).
 */
export function formatMoney(usd: string | null | undefined): string {
  if (usd === null || usd === undefined) return "—";
  const negative = usd.startsWith("-");
  const nanos = parseUsd(negative ? usd.slice(1) : usd);
  if (nanos === null) return usd;
  const sign = negative ? "-" : "";
  if (nanos === 0n) return "$0.00";
  if (nanos >= 10_000_000n) {
    const cents = roundTo(nanos, 10_000_000n);
    return `${sign}$${grouped(cents / 100n)}.${(cents % 100n).toString().padStart(2, "0")}`;
  }
  const micros = roundTo(nanos, 1_000n);
  if (micros === 0n) return `${sign}<$0.000001`;
  const digits = micros.toString().padStart(6, "0").replace(/0+$/, "");
  return `${sign}$0.${digits.padEnd(2, "0")}`;
}

/** Spend as a share of a limit, in whole percent (0–100+), without floating point on money. */
export function percentOf(spent: string, limit: string | null): number | null {
  if (!limit) return null;
  const l = parseUsd(limit);
  const s = parseUsd(spent);
  if (!l || s === null) return null;
  return Number((s * 100n) / l);
}

export function isUsd(text: string): boolean {
  return parseUsd(text) !== null;
}

export { NANOS_PER_USD };
