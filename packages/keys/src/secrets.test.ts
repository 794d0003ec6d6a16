import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base62Alphabet } from "./base62.ts";
import {
  displaySecret,
  generateSecret,
  hashSecret,
  parseSecret,
  SecretKinds,
  secretBodyLength,
} from "./secrets.ts";

const sampleSize = 100_000;
// Generated once and shared: the well-formedness, uniqueness and bias tests look at one sample.
const apiKeys = Array.from({ length: sampleSize }, () => generateSecret("apiKey"));

describe("generateSecret", () => {
  it("produces 100,000 well-formed, unique API keys", () => {
    const malformed = apiKeys.filter((secret) => parseSecret(secret)?.kind !== "apiKey");
    expect(malformed).toEqual([]);
    expect(new Set(apiKeys).size).toBe(sampleSize);
    expect(apiKeys[0]).toMatch(/^osm_[0-9A-Za-z]{41}$/);
  });

  it("produces well-formed management tokens", () => {
    const tokens = Array.from({ length: 10_000 }, () => generateSecret("token"));
    expect(tokens.filter((token) => parseSecret(token)?.kind !== "token")).toEqual([]);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(tokens[0]).toMatch(/^osmt_[0-9A-Za-z]{41}$/);
  });

  /*
   * Chi-squared goodness of fit per random position: 62 categories, df = 61, expected count
   * 100,000 / 62 ≈ 1613 per cell (well above the usual ≥ 5 rule). We test 35 positions, so a
   * family-wise false-alarm rate of 0.001 needs α = 0.001 / 35 ≈ 2.86e-5 per position
   * (Bonferroni). The upper-tail critical value of χ²(61) at that α, from
   * scipy.stats.chi2.isf(0.001 / 35, 61), is 115.89 (for reference: α = 1e-3 → 100.89,
   * α = 1e-5 → 119.97). A modulo-biased generator (`byte % 62` without rejection) puts ~25%
   * more mass on digits 0–7 and scores ≈ 700 here.
   */
  it("shows no bias at any random position (chi-squared)", () => {
    const criticalValue = 115.89;
    const prefixLength = SecretKinds.apiKey.length;
    const digit = new Map([...base62Alphabet].map((char, index) => [char, index]));
    const counts = Array.from({ length: secretBodyLength }, () => new Array<number>(62).fill(0));
    for (const secret of apiKeys) {
      for (let position = 0; position < secretBodyLength; position++) {
        const value = digit.get(secret[prefixLength + position] ?? "")!;
        counts[position]![value]!++;
      }
    }
    const expected = sampleSize / 62;
    const statistics = counts.map((row) =>
      row.reduce((sum, observed) => sum + (observed - expected) ** 2 / expected, 0),
    );
    const biased = statistics
      .map((statistic, position) => ({ position, statistic }))
      .filter(({ statistic }) => statistic >= criticalValue);
    expect(biased).toEqual([]);
  });
});

describe("parseSecret", () => {
  it("refuses every single-character substitution, prefix and checksum included", () => {
    // "_" is added so that substitutions producing the other kind's prefix are tried too.
    const replacements = [...base62Alphabet, "_"];
    const secrets = [
      ...apiKeys.slice(0, 500),
      ...Array.from({ length: 500 }, () => generateSecret("token")),
    ];
    const accepted: string[] = [];
    let tried = 0;
    let expectedTries = 0;
    for (const secret of secrets) {
      expectedTries += secret.length * (replacements.length - 1);
      for (let position = 0; position < secret.length; position++) {
        const before = secret.slice(0, position);
        const after = secret.slice(position + 1);
        for (const char of replacements) {
          if (char === secret[position]) continue;
          tried++;
          const mutant = before + char + after;
          if (parseSecret(mutant) !== null) accepted.push(mutant);
        }
      }
    }
    expect(accepted).toEqual([]);
    expect(tried).toBe(expectedTries);
  });

  it("keeps the two prefixes apart", () => {
    const key = generateSecret("apiKey");
    const token = generateSecret("token");
    expect(parseSecret(key)).toEqual({ kind: "apiKey" });
    expect(parseSecret(token)).toEqual({ kind: "token" });
    // Same body under the other prefix: the checksum covers the prefix, and lengths differ.
    expect(parseSecret(`osmt_${key.slice(4)}`)).toBeNull();
    expect(parseSecret(`osm_${token.slice(5)}`)).toBeNull();
    expect(parseSecret(`osm_t${key.slice(4)}`)).toBeNull();
  });

  it("matches the pinned format (CRC32 of prefix + body, 6 base62 digits)", () => {
    // Checksums cross-checked with Python's zlib.crc32; this pins the format for offline scanners.
    expect(parseSecret(`osm_${"0".repeat(35)}0VqsST`)).toEqual({ kind: "apiKey" });
    expect(parseSecret(`osmt_${"0".repeat(35)}3mnvYg`)).toEqual({ kind: "token" });
    expect(parseSecret("osm_0123456789ABCDEFGHIJKLMNOPQRSTUVWXY0LmnOS")).toEqual({
      kind: "apiKey",
    });
  });

  it.each([
    ["empty", ""],
    ["prefix only", "osm_"],
    ["wrong prefix", `sk-_${"0".repeat(35)}0VqsST`],
    ["upper-case prefix", `OSM_${"0".repeat(35)}0VqsST`],
    ["one char short", `osm_${"0".repeat(31)}0VqsST`],
    ["one char long", `osm_${"0".repeat(33)}0VqsST`],
    ["non-base62 char", `osm_${"0".repeat(31)}-0VqsST`],
    ["non-ASCII char", `osm_${"0".repeat(31)}é0VqsST`],
    ["surrounding whitespace", ` osm_${"0".repeat(35)}0VqsST`],
    ["trailing newline", `osm_${"0".repeat(35)}0VqsST\n`],
    ["checksum mismatch", `osm_${"0".repeat(35)}0VqsSU`],
    ["checksum above 2^32", `osm_${"0".repeat(35)}zzzzzz`],
  ])("refuses %s", (_, value) => {
    expect(parseSecret(value)).toBeNull();
  });

  it("never throws, whatever the input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 64 }), (value) => {
        expect(parseSecret(value)).toBeNull();
      }),
      { numRuns: 5_000 },
    );
    for (const value of [undefined, null, 42, {}, []]) {
      expect(parseSecret(value as unknown as string)).toBeNull();
    }
    expect(parseSecret(`osm_${"0".repeat(1_000_000)}`)).toBeNull();
  });
});

describe("hashSecret", () => {
  it("is lowercase hex SHA-256", () => {
    expect(hashSecret("abc")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    const secret = generateSecret("apiKey");
    expect(hashSecret(secret)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashSecret(secret)).toBe(hashSecret(secret));
    expect(hashSecret(secret)).not.toBe(hashSecret(generateSecret("apiKey")));
  });
});

describe("displaySecret", () => {
  it("shows the prefix, the first 4 body chars and the last 4 chars", () => {
    expect(displaySecret("osm_0123456789ABCDEFGHIJKLMNOPQRSTUVWXY0LmnOS")).toBe(
      "osm_0123\u2026mnOS",
    );
    expect(displaySecret(`osmt_${"0".repeat(35)}3mnvYg`)).toBe("osmt_0000\u2026nvYg");
  });

  it("keeps the shape for generated secrets", () => {
    for (const kind of ["apiKey", "token"] as const) {
      const secret = generateSecret(kind);
      const prefix = SecretKinds[kind];
      const shown = displaySecret(secret);
      expect(shown).toBe(
        `${prefix}${secret.slice(prefix.length, prefix.length + 4)}…${secret.slice(-4)}`,
      );
      expect(shown).toHaveLength(prefix.length + 9);
    }
  });

  it("refuses a malformed value without echoing it", () => {
    const mistyped = `osm_${"0".repeat(35)}0VqsSU`;
    expect(() => displaySecret(mistyped)).toThrow(/not a well-formed/);
    expect(() => displaySecret(mistyped)).not.toThrow(/0VqsSU/);
  });
});
