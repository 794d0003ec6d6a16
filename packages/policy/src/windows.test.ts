import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BudgetPeriod,
  BudgetPeriods,
  countedFrom,
  spendWindow,
  windowEnd,
  windowId,
  windowStart,
} from "./windows.ts";

const at = (iso: string) => new Date(iso);
const before = (iso: string) => new Date(Date.parse(iso) - 1);

type Row = { now: Date; start: string; end: string; id: string };

const daily: [string, Row][] = [
  [
    "midday",
    { now: at("2026-11-27T13:45:00Z"), start: "2026-11-27", end: "2026-11-28", id: "d20261127" },
  ],
  [
    "exact start",
    { now: at("2026-11-27T00:00:00Z"), start: "2026-11-27", end: "2026-11-28", id: "d20261127" },
  ],
  [
    "1 ms before midnight",
    {
      now: before("2026-11-28T00:00:00Z"),
      start: "2026-11-27",
      end: "2026-11-28",
      id: "d20261127",
    },
  ],
  [
    "end of January",
    { now: at("2026-01-31T23:00:00Z"), start: "2026-01-31", end: "2026-02-01", id: "d20260131" },
  ],
  [
    "leap day",
    { now: at("2024-02-29T12:00:00Z"), start: "2024-02-29", end: "2024-03-01", id: "d20240229" },
  ],
  [
    "28 Feb of 2100 (not leap)",
    { now: at("2100-02-28T12:00:00Z"), start: "2100-02-28", end: "2100-03-01", id: "d21000228" },
  ],
  [
    "new year's eve",
    {
      now: before("2027-01-01T00:00:00Z"),
      start: "2026-12-31",
      end: "2027-01-01",
      id: "d20261231",
    },
  ],
  [
    "a local-time offset does not matter",
    {
      now: at("2026-11-27T23:30:00-05:00"),
      start: "2026-11-28",
      end: "2026-11-29",
      id: "d20261128",
    },
  ],
];

const weekly: [string, Row][] = [
  [
    "Friday",
    { now: at("2026-11-27T10:00:00Z"), start: "2026-11-23", end: "2026-11-30", id: "w20261123" },
  ],
  [
    "Monday 00:00 exactly",
    { now: at("2026-11-23T00:00:00Z"), start: "2026-11-23", end: "2026-11-30", id: "w20261123" },
  ],
  [
    "1 ms before Monday",
    {
      now: before("2026-11-23T00:00:00Z"),
      start: "2026-11-16",
      end: "2026-11-23",
      id: "w20261116",
    },
  ],
  [
    "Sunday",
    { now: at("2026-11-29T23:59:59Z"), start: "2026-11-23", end: "2026-11-30", id: "w20261123" },
  ],
  [
    "Thursday 1 Jan 2026: week from 2025",
    { now: at("2026-01-01T08:00:00Z"), start: "2025-12-29", end: "2026-01-05", id: "w20251229" },
  ],
  [
    "Sunday 4 Jan 2026",
    { now: at("2026-01-04T08:00:00Z"), start: "2025-12-29", end: "2026-01-05", id: "w20251229" },
  ],
  [
    "week over a leap day",
    { now: at("2024-03-01T00:00:00Z"), start: "2024-02-26", end: "2024-03-04", id: "w20240226" },
  ],
  [
    "week over 2100's missing leap day",
    {
      now: at("2100-02-28T23:59:59.999Z"),
      start: "2100-02-22",
      end: "2100-03-01",
      id: "w21000222",
    },
  ],
  [
    "Sunday 1 Jan 2023: week from 2022",
    { now: at("2023-01-01T12:00:00Z"), start: "2022-12-26", end: "2023-01-02", id: "w20221226" },
  ],
  [
    "Monday 1 Jan 2024",
    { now: at("2024-01-01T00:00:00Z"), start: "2024-01-01", end: "2024-01-08", id: "w20240101" },
  ],
];

const monthly: [string, Row][] = [
  [
    "November",
    { now: at("2026-11-27T10:00:00Z"), start: "2026-11-01", end: "2026-12-01", id: "m202611" },
  ],
  [
    "1st 00:00 exactly",
    { now: at("2026-11-01T00:00:00Z"), start: "2026-11-01", end: "2026-12-01", id: "m202611" },
  ],
  [
    "1 ms before the 1st",
    { now: before("2026-11-01T00:00:00Z"), start: "2026-10-01", end: "2026-11-01", id: "m202610" },
  ],
  [
    "31-day month",
    { now: at("2026-01-31T23:59:59.999Z"), start: "2026-01-01", end: "2026-02-01", id: "m202601" },
  ],
  [
    "30-day month",
    { now: at("2026-04-30T12:00:00Z"), start: "2026-04-01", end: "2026-05-01", id: "m202604" },
  ],
  [
    "leap February",
    { now: at("2024-02-29T23:59:59.999Z"), start: "2024-02-01", end: "2024-03-01", id: "m202402" },
  ],
  [
    "February 2100",
    { now: at("2100-02-28T23:59:59.999Z"), start: "2100-02-01", end: "2100-03-01", id: "m210002" },
  ],
  [
    "December into January",
    { now: at("2026-12-31T23:59:59.999Z"), start: "2026-12-01", end: "2027-01-01", id: "m202612" },
  ],
];

function check(period: BudgetPeriod, row: Row) {
  expect(windowStart(period, row.now).toISOString()).toBe(`${row.start}T00:00:00.000Z`);
  expect(windowEnd(period, row.now)?.toISOString()).toBe(`${row.end}T00:00:00.000Z`);
  expect(windowId(period, row.now)).toBe(row.id);
  expect(windowId(period, windowStart(period, row.now))).toBe(row.id);
}

describe("daily windows", () => {
  it.each(daily)("%s", (_, row) => check("daily", row));
});

describe("weekly windows (ISO weeks, Monday 00:00 UTC)", () => {
  it.each(weekly)("%s", (_, row) => check("weekly", row));
});

describe("monthly windows", () => {
  it.each(monthly)("%s", (_, row) => check("monthly", row));
});

describe("no period", () => {
  it.each([at("1970-01-01T00:00:00Z"), at("2026-11-27T10:00:00Z"), at("2100-02-28T10:00:00Z")])(
    "one window since the epoch (%s)",
    (now) => {
      expect(windowStart("none", now).toISOString()).toBe("1970-01-01T00:00:00.000Z");
      expect(windowEnd("none", now)).toBeNull();
      expect(windowId("none", now)).toBe("all");
    },
  );
});

describe("invariants", () => {
  const instant = fc
    .integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2200, 0, 1) })
    .map((ms) => new Date(ms));
  const periodic = fc.constantFrom<BudgetPeriod>("daily", "weekly", "monthly");

  it("start ≤ now < end, the end is the next window's start, ids differ across windows", () => {
    fc.assert(
      fc.property(periodic, instant, (period, now) => {
        const start = windowStart(period, now);
        const end = windowEnd(period, now)!;
        expect(start.getTime()).toBeLessThanOrEqual(now.getTime());
        expect(now.getTime()).toBeLessThan(end.getTime());
        expect(windowStart(period, end)).toEqual(end);
        expect(windowStart(period, new Date(end.getTime() - 1))).toEqual(start);
        expect(windowId(period, end)).not.toBe(windowId(period, now));
        expect(windowId(period, new Date(end.getTime() - 1))).toBe(windowId(period, now));
      }),
    );
  });

  it("starts at midnight UTC, weeks on a Monday, months on the 1st", () => {
    fc.assert(
      fc.property(periodic, instant, (period, now) => {
        const start = windowStart(period, now);
        expect(start.getTime() % 86_400_000).toBe(0);
        if (period === "weekly") expect(start.getUTCDay()).toBe(1);
        if (period === "monthly") expect(start.getUTCDate()).toBe(1);
      }),
    );
  });

  it("ids have a fixed shape", () => {
    const shapes: Record<BudgetPeriod, RegExp> = {
      none: /^all$/,
      daily: /^d\d{8}$/,
      weekly: /^w\d{8}$/,
      monthly: /^m\d{6}$/,
    };
    fc.assert(
      fc.property(fc.constantFrom(...BudgetPeriods), instant, (period, now) => {
        expect(windowId(period, now)).toMatch(shapes[period]);
      }),
    );
  });

  it("refuses an invalid date instead of computing a NaN window", () => {
    expect(() => windowStart("daily", new Date(Number.NaN))).toThrow(RangeError);
    expect(() => windowId("monthly", new Date("nope"))).toThrow(RangeError);
  });
});

describe("spendWindow", () => {
  const key = (budgetPeriod: BudgetPeriod, spendResetAt: string | null) => ({
    budgetPeriod,
    spendResetAt: spendResetAt === null ? null : at(spendResetAt),
  });

  it("is the calendar window when no reset happened", () => {
    const w = spendWindow(key("monthly", null), at("2026-11-27T13:45:00Z"));
    expect(w).toEqual({
      start: at("2026-11-01T00:00:00Z"),
      end: at("2026-12-01T00:00:00Z"),
      resetAt: null,
    });
    expect(countedFrom(w)).toEqual(at("2026-11-01T00:00:00Z"));
  });

  it("counts from a reset inside the window", () => {
    const w = spendWindow(key("monthly", "2026-11-10T08:00:00Z"), at("2026-11-27T13:45:00Z"));
    expect(w.resetAt).toEqual(at("2026-11-10T08:00:00Z"));
    expect(countedFrom(w)).toEqual(at("2026-11-10T08:00:00Z"));
  });

  it("keeps a reset made at the window's first instant, drops one made 1 ms before", () => {
    const now = at("2026-11-27T13:45:00Z");
    expect(spendWindow(key("daily", "2026-11-27T00:00:00Z"), now).resetAt).toEqual(
      at("2026-11-27T00:00:00Z"),
    );
    expect(
      spendWindow(key("daily", before("2026-11-27T00:00:00Z").toISOString()), now).resetAt,
    ).toBeNull();
  });

  it("a reset from the previous window stops counting when the new window starts", () => {
    const reset = "2026-11-29T22:00:00Z";
    expect(spendWindow(key("weekly", reset), before("2026-11-30T00:00:00Z")).resetAt).toEqual(
      at(reset),
    );
    const next = spendWindow(key("weekly", reset), at("2026-11-30T00:00:00Z"));
    expect(next).toEqual({
      start: at("2026-11-30T00:00:00Z"),
      end: at("2026-12-07T00:00:00Z"),
      resetAt: null,
    });
  });

  it("ignores a reset stamped after the instant asked about", () => {
    const w = spendWindow(key("daily", "2026-11-27T14:00:00Z"), at("2026-11-27T13:45:00Z"));
    expect(w.resetAt).toBeNull();
    expect(countedFrom(w)).toEqual(at("2026-11-27T00:00:00Z"));
  });

  it("a budget that never resets still honours a spend reset", () => {
    const w = spendWindow(key("none", "2026-01-05T00:00:00Z"), at("2026-11-27T13:45:00Z"));
    expect(w).toEqual({ start: new Date(0), end: null, resetAt: at("2026-01-05T00:00:00Z") });
  });

  it("is computed in UTC whatever offset the instants were written with", () => {
    // 00:30 on March 1st at +02:00 is still February 28th in UTC.
    const w = spendWindow(
      key("monthly", "2026-02-28T20:00:00+02:00"),
      at("2026-03-01T00:30:00+02:00"),
    );
    expect(w.start).toEqual(at("2026-02-01T00:00:00Z"));
    expect(w.end).toEqual(at("2026-03-01T00:00:00Z"));
    expect(w.resetAt).toEqual(at("2026-02-28T18:00:00Z"));
  });

  it("the reset, when there is one, always lies inside the window and not after the instant", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...BudgetPeriods),
        fc.date({
          min: at("2000-01-01T00:00:00Z"),
          max: at("2100-01-01T00:00:00Z"),
          noInvalidDate: true,
        }),
        // Resets up to 40 days either side of the instant: some inside its window, some not.
        fc.integer({ min: -40 * 86_400_000, max: 40 * 86_400_000 }),
        (period, now, offset) => {
          const w = spendWindow(
            { budgetPeriod: period, spendResetAt: new Date(now.getTime() + offset) },
            now,
          );
          if (w.resetAt === null) return;
          expect(w.resetAt >= w.start && w.resetAt <= now).toBe(true);
          if (w.end) expect(w.resetAt < w.end).toBe(true);
        },
      ),
    );
  });
});
