import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base62Alphabet, decodeBase62, encodeBase62, isBase62, randomBase62 } from "./base62.ts";

describe("base62", () => {
  it("uses ASCII order, so string order matches numeric order", () => {
    expect([...base62Alphabet].sort().join("")).toBe(base62Alphabet);
    expect(new Set(base62Alphabet).size).toBe(62);
  });

  it("encodes fixed-width and round-trips", () => {
    expect(encodeBase62(0, 6)).toBe("000000");
    expect(encodeBase62(61, 2)).toBe("0z");
    expect(encodeBase62(62, 2)).toBe("10");
    expect(encodeBase62(2 ** 32 - 1, 6)).toBe("4gfFC3");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 62 ** 8 - 1 }), (value) => {
        const encoded = encodeBase62(value, 8);
        expect(encoded).toHaveLength(8);
        expect(decodeBase62(encoded)).toBe(value);
      }),
    );
  });

  it("preserves order between encoded values", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 62 ** 8 - 1 }),
        fc.integer({ min: 0, max: 62 ** 8 - 1 }),
        (a, b) => {
          const [x, y] = [encodeBase62(a, 8), encodeBase62(b, 8)];
          expect(Math.sign(a - b)).toBe(x < y ? -1 : x > y ? 1 : 0);
        },
      ),
    );
  });

  it("refuses values that do not fit", () => {
    expect(() => encodeBase62(62 ** 2, 2)).toThrow(RangeError);
    expect(() => encodeBase62(-1, 4)).toThrow(RangeError);
    expect(() => encodeBase62(1.5, 4)).toThrow(RangeError);
    expect(() => encodeBase62(Number.NaN, 4)).toThrow(RangeError);
  });

  it("recognises the alphabet only", () => {
    expect(isBase62(base62Alphabet)).toBe(true);
    expect(isBase62("")).toBe(true);
    for (const char of ["_", "-", " ", "é", "\u0000", "\u{1F600}"]) {
      expect(isBase62(`ab${char}cd`)).toBe(false);
    }
    expect(isBase62("__ab", 2)).toBe(true);
    expect(decodeBase62("a_")).toBe(-1);
  });

  it("draws random strings of the requested length from the alphabet", () => {
    for (const length of [0, 1, 32, 1000]) {
      const value = randomBase62(length);
      expect(value).toHaveLength(length);
      expect(isBase62(value)).toBe(true);
    }
  });
});
