import { describe, expect, it } from "vitest";
import { chatCachedTokens, responseUsage } from "./usage.ts";

describe("responseUsage", () => {
  it("reads input, cached and output tokens", () => {
    expect(
      responseUsage({
        usage: { input_tokens: 9, input_tokens_details: { cached_tokens: 4 }, output_tokens: 2 },
      }),
    ).toEqual({ inputTokens: 9, cachedInputTokens: 4, outputTokens: 2 });
  });

  it.each([null, {}, { usage: null }, { usage: { input_tokens: -1, output_tokens: 1.5 } }])(
    "treats %o as unreported",
    (response) => {
      expect(responseUsage(response)).toEqual({
        inputTokens: null,
        cachedInputTokens: 0,
        outputTokens: null,
      });
    },
  );
});

describe("chatCachedTokens", () => {
  it("reads prompt_tokens_details.cached_tokens, 0 when absent", () => {
    expect(chatCachedTokens({ prompt_tokens_details: { cached_tokens: 7 } })).toBe(7);
    expect(chatCachedTokens({ prompt_tokens: 3 })).toBe(0);
    expect(chatCachedTokens(undefined)).toBe(0);
  });
});
