import { describe, expect, it } from "vitest";
import { AuthFailureThrottle, maxFailuresPerMinute } from "./auth-failure-throttle.ts";

function throttleAt(start = 1_000_000) {
  let now = start;
  const throttle = new AuthFailureThrottle(() => now);
  return { throttle, advance: (ms: number) => (now += ms) };
}

describe("AuthFailureThrottle", () => {
  it("answers 401 until the limit, then 429 for the rest of the minute", () => {
    const { throttle, advance } = throttleAt();
    for (let i = 0; i < maxFailuresPerMinute; i++) {
      expect(throttle.limited("a")).toBeNull();
      throttle.recordFailure("a");
    }
    const limited = throttle.limited("a");
    expect(limited?.code).toBe("rate_limit_exceeded");
    expect(limited?.retryAfterSeconds).toBe(60);
    expect(throttle.limited("b")).toBeNull();
    advance(60_000);
    expect(throttle.limited("a")).toBeNull();
  });

  it("lets a throttled bucket look up one uncached key per second", () => {
    const { throttle, advance } = throttleAt();
    expect(throttle.limitedLookup("a")).toBeNull();
    for (let i = 0; i < maxFailuresPerMinute; i++) throttle.recordFailure("a");
    expect(throttle.limitedLookup("a")).toBeNull();
    expect(throttle.limitedLookup("a")?.retryAfterSeconds).toBe(1);
    advance(999);
    expect(throttle.limitedLookup("a")).not.toBeNull();
    advance(1);
    expect(throttle.limitedLookup("a")).toBeNull();
    expect(throttle.limitedLookup("b")).toBeNull();
  });
});
