import { describe, expect, it } from "vitest";
import { budgetWindow } from "./redis-key-names.ts";

const at = (iso: string) => new Date(iso);

describe("budgetWindow", () => {
  it("names the calendar window, and a new name after a reset inside it", () => {
    const now = at("2026-11-27T13:45:00Z");
    expect(budgetWindow("monthly", null, now).id).toBe("m202611");
    const reset = at("2026-11-10T08:00:00Z");
    const w = budgetWindow("monthly", reset, now);
    expect(w.id).toBe(`m202611.r${reset.getTime()}`);
    expect(w.resetAt).toEqual(reset);
    expect(w.start).toEqual(at("2026-11-01T00:00:00Z"));
  });

  it("drops a reset from an earlier window and one stamped after now", () => {
    const now = at("2026-11-27T13:45:00Z");
    expect(budgetWindow("daily", at("2026-11-26T23:59:59Z"), now).id).toBe("d20261127");
    expect(budgetWindow("daily", at("2026-11-27T14:00:00Z"), now).id).toBe("d20261127");
  });

  it("keeps counters two days past the window's end, and forever without one", () => {
    const now = at("2026-11-27T23:59:00Z");
    expect(budgetWindow("daily", null, now).ttlSeconds).toBe(60 + 2 * 24 * 3600);
    expect(budgetWindow("none", null, now).ttlSeconds).toBe(-1);
  });
});
