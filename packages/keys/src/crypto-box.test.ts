import { describe, expect, it } from "vitest";
import { createCryptoBox } from "./crypto-box.ts";

const secret = "a-test-secret-that-is-long-enough-0123456789";
const otherSecret = "another-test-secret-that-is-long-enough-987";
const box = createCryptoBox(secret);

// Flips one bit of the decoded bytes of one part and re-encodes it canonically, so the change
// reaches the cipher rather than being caught by the format check.
function flipByte(value: string, part: 1 | 2 | 3, index = 0): string {
  const parts = value.split(".");
  const bytes = Buffer.from(parts[part]!, "base64url");
  bytes[index] = bytes[index]! ^ 0x01;
  parts[part] = bytes.toString("base64url");
  return parts.join(".");
}

describe("createCryptoBox", () => {
  it("refuses a secret shorter than 32 characters", () => {
    expect(() => createCryptoBox("x".repeat(31))).toThrow(/at least 32 characters/);
    expect(() => createCryptoBox("x".repeat(32))).not.toThrow();
  });

  it("round-trips, including empty and non-ASCII plaintexts", () => {
    for (const plaintext of ["sk-live-abc123", "", "clé 🔑 ключ", "x".repeat(100_000)]) {
      const sealed = box.encrypt(plaintext);
      expect(box.decrypt(sealed)).toBe(plaintext);
      expect(createCryptoBox(secret).decrypt(sealed)).toBe(plaintext);
    }
  });

  it("has the v1.<iv>.<tag>.<ciphertext> shape and never shows the plaintext", () => {
    const sealed = box.encrypt("sk-live-abc123");
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain("sk-live");
  });

  it("uses a fresh IV for every encryption", () => {
    const sealed = Array.from({ length: 1000 }, () => box.encrypt("same"));
    expect(new Set(sealed.map((value) => value.split(".")[1])).size).toBe(1000);
  });

  it("detects a flipped byte in the IV, the tag and the ciphertext", () => {
    const sealed = box.encrypt("provider credential");
    for (const part of [1, 2, 3] as const) {
      const length = Buffer.from(sealed.split(".")[part]!, "base64url").length;
      for (const index of [0, length - 1]) {
        expect(() => box.decrypt(flipByte(sealed, part, index))).toThrow(/tampered with/);
      }
    }
  });

  it("refuses a wrong secret with a clear error", () => {
    const sealed = box.encrypt("provider credential");
    expect(() => createCryptoBox(otherSecret).decrypt(sealed)).toThrow(/different OSM_SECRET/);
  });

  it.each([
    ["empty", ""],
    ["wrong version", (s: string) => s.replace(/^v1/, "v2")],
    ["missing part", (s: string) => s.split(".").slice(0, 3).join(".")],
    ["extra part", (s: string) => `${s}.AA`],
    ["non-base64url char", (s: string) => s.replace(/\.([^.]+)$/, ".$1+")],
    ["short IV", (s: string) => s.replace(/^v1\.[^.]{2}/, "v1.")],
    ["non-canonical tag spelling", (s: string) => swapLastChar(s, 2)],
  ])("refuses a malformed value: %s", (_, make) => {
    const sealed = box.encrypt("provider credential");
    const value = typeof make === "string" ? make : make(sealed);
    expect(value).not.toBe(sealed);
    expect(() => box.decrypt(value)).toThrow(/malformed/);
  });

  it("does not echo the value in its errors", () => {
    const value = "v1.sk-live-pasted-by-mistake";
    expect(() => box.decrypt(value)).not.toThrow(/sk-live/);
  });
});

describe("check value", () => {
  it("verifies under the right secret, also in a new process-like instance", () => {
    const check = box.checkValue();
    expect(box.verifyCheckValue(check)).toBe(true);
    expect(createCryptoBox(secret).verifyCheckValue(check)).toBe(true);
  });

  it("fails under a wrong secret", () => {
    expect(createCryptoBox(otherSecret).verifyCheckValue(box.checkValue())).toBe(false);
  });

  it("fails for other ciphertexts and malformed values without throwing", () => {
    const check = box.checkValue();
    for (const value of [
      box.encrypt("not the check plaintext"),
      flipByte(check, 3),
      flipByte(check, 2),
      "",
      "v1...",
      "garbage",
      undefined as unknown as string,
    ]) {
      expect(box.verifyCheckValue(value)).toBe(false);
    }
  });
});

// The 16-byte tag spells 22 base64url chars whose last one carries 4 unused bits; changing only
// those bits decodes to the same bytes, which must still be refused as non-canonical.
function swapLastChar(value: string, part: number): string {
  const parts = value.split(".");
  const text = parts[part]!;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const index = alphabet.indexOf(text.at(-1)!);
  parts[part] = text.slice(0, -1) + alphabet[index ^ 0x01];
  return parts.join(".");
}
