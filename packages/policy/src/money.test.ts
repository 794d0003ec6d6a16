import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatUsd,
  MAX_PRICE_PER_1M_NANOS,
  MAX_SPEND_LIMIT_NANOS,
  NANOS_PER_USD,
  parseUsd,
} from "./money.ts";

// Canonical strings are what formatUsd produces: no leading zeros, no trailing fraction zeros.
const canonicalUsd = fc
  .tuple(
    fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 10n ** 30n })),
    fc.option(fc.bigInt({ min: 1n, max: NANOS_PER_USD - 1n }), { nil: undefined }),
  )
  .map(([whole, fraction]) =>
    fraction === undefined
      ? whole.toString()
      : whole.toString() + "." + fraction.toString().padStart(9, "0").replace(/0+$/, ""),
  );

describe("parseUsd", () => {
  it.each([
    ["0", 0n],
    ["1", 1_000_000_000n],
    ["12.50", 12_500_000_000n],
    ["12.5", 12_500_000_000n],
    ["0.15", 150_000_000n],
    ["0.000000001", 1n],
    ["0.100000000", 100_000_000n],
    ["007", 7_000_000_000n],
    ["1000000", MAX_SPEND_LIMIT_NANOS],
    ["10000", MAX_PRICE_PER_1M_NANOS],
    ["9007199.254740993", 9_007_199_254_740_993n],
    ["123456789012345678901234567890.123456789", 123456789012345678901234567890123456789n],
  ])("parses %s", (text, nanos) => {
    expect(parseUsd(text)).toBe(nanos);
  });

  it.each([
    "",
    " ",
    " 1",
    "1 ",
    "-1",
    "+1",
    "1e3",
    "1E3",
    ".5",
    "5.",
    "0.0000000001",
    "1,5",
    "1.2.3",
    "0x10",
    "Infinity",
    "NaN",
    "١",
    "1_000",
    "$1",
  ])("refuses %j", (text) => {
    expect(parseUsd(text)).toBeNull();
  });
});

describe("formatUsd", () => {
  it.each([
    [0n, "0"],
    [1n, "0.000000001"],
    [150_000_000n, "0.15"],
    [12_500_000_000n, "12.5"],
    [3_000_000_000n, "3"],
    [1_000_000_010n, "1.00000001"],
    [-1n, "-0.000000001"],
    [-12_500_000_000n, "-12.5"],
    [MAX_SPEND_LIMIT_NANOS, "1000000"],
    [MAX_PRICE_PER_1M_NANOS, "10000"],
    [2n ** 53n, "9007199.254740992"],
    [2n ** 53n + 1n, "9007199.254740993"],
    [2n ** 63n - 1n, "9223372036.854775807"],
  ])("formats %s as %s", (nanos, text) => {
    expect(formatUsd(nanos)).toBe(text);
  });
});

describe("round trips", () => {
  it("format(parse(s)) is s for canonical strings", () => {
    fc.assert(
      fc.property(canonicalUsd, (text) => {
        expect(formatUsd(parseUsd(text)!)).toBe(text);
      }),
    );
  });

  it("parse(format(n)) is n for 0..2^63", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 63n }), (nanos) => {
        expect(parseUsd(formatUsd(nanos))).toBe(nanos);
      }),
    );
  });

  it("trailing zeros and leading zeros parse to the same value", () => {
    fc.assert(
      fc.property(canonicalUsd, fc.nat(3), (text, zeros) => {
        const fractionDigits = text.includes(".") ? text.split(".")[1]!.length : 0;
        const padded =
          "0".repeat(zeros) +
          (text.includes(".") ? text : text + ".") +
          "0".repeat(Math.max(0, Math.min(zeros, 9 - fractionDigits)));
        const candidate = padded.endsWith(".") ? padded.slice(0, -1) : padded;
        expect(parseUsd(candidate)).toBe(parseUsd(text));
      }),
    );
  });

  it("is exact around 2^53 units, where Number would round", () => {
    for (let delta = -3n; delta <= 3n; delta++) {
      const nanos = 2n ** 53n + delta;
      expect(parseUsd(formatUsd(nanos))).toBe(nanos);
    }
    // The value Number cannot represent survives the trip.
    expect(Number(2n ** 53n + 1n)).toBe(Number(2n ** 53n));
    expect(parseUsd("9007199.254740993")! - parseUsd("9007199.254740992")!).toBe(1n);
  });
});
