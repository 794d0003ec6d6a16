import { describe, expect, it } from "vitest";
import { defaultBackoff, nextConsecutive, restartDelayMs } from "./restart-backoff.ts";

describe("restart backoff", () => {
  it.each([
    [1, 500],
    [2, 1_000],
    [3, 2_000],
    [6, 16_000],
    [7, 30_000],
    [50, 30_000],
    [10_000, 30_000],
  ])("restart %i waits %i ms", (consecutive, ms) => {
    expect(restartDelayMs(defaultBackoff, consecutive)).toBe(ms);
  });

  it("counts crashes in a row and starts over after a stable run", () => {
    expect(nextConsecutive(defaultBackoff, 0, 100)).toBe(1);
    expect(nextConsecutive(defaultBackoff, 3, 29_999)).toBe(4);
    expect(nextConsecutive(defaultBackoff, 3, 30_000)).toBe(1);
  });
});
