import { describe, expect, it } from "vitest";
import { embeddingTokens, messageTokens, promptTokens, splitWords, utf8Length } from "./tokens.ts";

describe("messageTokens", () => {
  it.each([
    ["", 0],
    ["a", 1],
    ["ab", 2],
    ["abc", 2],
    ["abcd", 2],
    ["hello", 3],
    ["héllo 🌍", 4],
    ["x".repeat(400), 101],
  ])("%j costs %i", (text, expected) => {
    expect(messageTokens(text)).toBe(expected);
  });

  it("never exceeds the UTF-8 byte count", () => {
    for (const text of ["", "a", "é", "🌍", "ab", "日本語", "a b c d e f g"]) {
      expect(messageTokens(text)).toBeLessThanOrEqual(utf8Length(text));
    }
  });
});

describe("promptTokens", () => {
  it("sums per message", () => {
    expect(promptTokens(["hello", "abcd", ""])).toBe(3 + 2 + 0);
  });
});

describe("embeddingTokens", () => {
  it("counts a quarter of the bytes, or the pre-tokenised length", () => {
    expect(embeddingTokens("hello")).toBe(2);
    expect(embeddingTokens([1, 2, 3])).toBe(3);
  });
});

describe("splitWords", () => {
  it.each([
    ["", []],
    ["   ", ["   "]],
    ["héllo 🌍", ["héllo ", "🌍"]],
    ["  lead trail  ", ["  lead ", "trail  "]],
    ["a\nb", ["a\n", "b"]],
  ])("%j", (text, words) => {
    expect(splitWords(text)).toEqual(words);
    expect(splitWords(text).join("")).toBe(text);
  });
});
