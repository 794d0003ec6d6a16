import { describe, expect, it } from "vitest";
import { hangStage, parseBehaviour } from "./behaviour.ts";

describe("parseBehaviour", () => {
  it("accepts every documented field", () => {
    const behaviour = {
      latencyMs: 1,
      firstByteMs: 2,
      chunkDelayMs: 3,
      outputTokens: 4,
      status: 429,
      errorMessage: "slow down",
      retryAfter: 2,
      reset: "mid-stream",
      hang: "after-headers",
      gzip: true,
      fragment: true,
      seed: 5,
      crlf: true,
      comments: true,
      omitUsage: false,
      usageOverride: { prompt_tokens: 10, completion_tokens: 20 },
      toolCall: { name: "f", arguments: { a: 1 } },
      text: "hi",
      authFail: false,
      badJson: false,
    };
    expect(parseBehaviour(behaviour)).toEqual(behaviour);
  });

  it.each([
    [null, /JSON object/],
    [{ latencyMS: 5 }, /unknown behaviour field "latencyMS"/],
    [{ latencyMs: -1 }, /latencyMs/],
    [{ status: 200 }, /status/],
    [{ reset: "sometimes" }, /reset/],
    [{ usageOverride: { prompt: 1 } }, /usageOverride/],
    [{ toolCall: { name: "" } }, /toolCall/],
  ])("refuses %j", (value, message) => {
    expect(() => parseBehaviour(value)).toThrow(message);
  });

  it("copies, so later mutation of the input has no effect", () => {
    const input = { usageOverride: { prompt_tokens: 1 } };
    const parsed = parseBehaviour(input);
    input.usageOverride.prompt_tokens = 2;
    expect(parsed.usageOverride?.prompt_tokens).toBe(1);
  });
});

describe("hangStage", () => {
  it("treats true as before-headers", () => {
    expect(hangStage({ hang: true })).toBe("before-headers");
    expect(hangStage({ hang: false })).toBeNull();
    expect(hangStage({ hang: "mid-stream" })).toBe("mid-stream");
  });
});
