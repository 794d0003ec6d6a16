import { createRedis, type RedisClient } from "@osm/redis/connect";
import { createTestServices, type TestServices } from "@osm/testing/context";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AdmitRequest, type AdmitStatus, BudgetCounters } from "./counters.ts";

// The real Lua scripts on the real Redis, driven through BudgetCounters the way the proxy
// drives them: admit (reserve the worst case) → settle at the actual cost, release (cost 0), or
// crash (never settled; the reservation expires once an injected clock passes its deadline).

let services: TestServices;
let redis: RedisClient;
let other: RedisClient;
let counters: BudgetCounters;
/** A second connection, as a second proxy process would have. */
let otherCounters: BudgetCounters;

beforeAll(async () => {
  services = await createTestServices();
  redis = createRedis(services.redis, { maxRetriesPerRequest: 2 });
  other = createRedis(services.redis, { maxRetriesPerRequest: 2 });
  counters = new BudgetCounters(redis, services.redisPrefix);
  otherCounters = new BudgetCounters(other, services.redisPrefix);
});
afterAll(async () => {
  redis.disconnect();
  other.disconnect();
  await services.close();
});

const ttlMs = 120_000;
const T0 = Date.UTC(2026, 10, 27, 12);
let sequence = 0;
const freshKey = () => `key_prop_${++sequence}`;

function admitArgs(
  keyId: string,
  requestId: string,
  over: Partial<AdmitRequest> & Pick<AdmitRequest, "nowMs">,
): AdmitRequest {
  return {
    keyId,
    windowId: "m202611",
    requestId,
    reserve: 0n,
    limit: null,
    deadlineMs: over.nowMs + ttlMs,
    requestsPerMinute: null,
    tokensPerMinute: null,
    tokenEstimate: 0,
    windowTtlSeconds: 600,
    ...over,
  };
}

// ---------------------------------------------------------------------------------------------
// (a) Arbitrary interleavings of admissions, settlements, crashes and time
// ---------------------------------------------------------------------------------------------

type Action = "settle" | "release" | "crash";
type Planned = { reserve: bigint; cost: bigint; action: Action };

const scenario = fc
  .record({
    // From single nanos up to limits of $10,000 (1e13 nanos). Totals stay below 1e14 nanos
    // ($100,000): at and above it the scripts answer tostring(n) = "1e+14" and BigInt() throws
    // (a bug, reported, left out here).
    scale: fc.constantFrom(1n, 1_000n, 10_000_000n),
    limit: fc.integer({ min: 0, max: 1_000_000 }),
    requests: fc.array(
      fc.record({
        // At least 1 nano: a zero reservation breaks the scripts' `-tonumber(amount)` (Lua -0 is
        // no integer to HINCRBY) — a bug, reported, left out here.
        reserve: fc.integer({ min: 1, max: 400_000 }),
        percent: fc.integer({ min: 0, max: 100 }),
        // About one request in ten reports more usage than it reserved: charged in full.
        over: fc.oneof(
          { weight: 9, arbitrary: fc.constant(0) },
          { weight: 1, arbitrary: fc.integer({ min: 1, max: 50_000 }) },
        ),
        action: fc.constantFrom<Action>("settle", "settle", "release", "crash"),
      }),
      { minLength: 1, maxLength: 14 },
    ),
    // Clock steps; some are longer than a reservation's lifetime.
    ticks: fc.array(fc.integer({ min: 0, max: 2 * ttlMs }), { maxLength: 4 }),
  })
  .map(({ scale, limit, requests, ticks }) => ({
    limit: BigInt(limit) * scale,
    ticks,
    requests: requests.map(
      (r): Planned => ({
        reserve: BigInt(r.reserve) * scale,
        cost: ((BigInt(r.reserve) * BigInt(r.percent)) / 100n + BigInt(r.over)) * scale,
        action: r.action,
      }),
    ),
  }));

const excessOf = (cost: bigint, held: bigint) => (cost > held ? cost - held : 0n);

describe("admission and settlement under arbitrary interleavings", () => {
  it("matches a sequential model step by step; spent never passes limit + over-usage", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenario, async (s, { limit, requests, ticks }) => {
        const keyId = freshKey();
        const windowId = "m202611";
        await counters.rebuild(keyId, windowId, 0n, 600);

        // The model: what the scripts must hold after every step, each step being atomic.
        let now = T0;
        let spent = 0n;
        let reserved = 0n;
        let excess = 0n;
        let settledCosts = 0n;
        const live = new Map<string, { amount: bigint; deadline: number; crashed: boolean }>();
        const admitted = new Set<number>();

        const check = async () => {
          const c = await counters.read(keyId, windowId);
          expect(c).toEqual({ spent, reserved });
          expect(c!.spent + c!.reserved).toBeLessThanOrEqual(limit + excess);
          if (excess === 0n) expect(c!.spent).toBeLessThanOrEqual(limit);
        };
        const expireModel = () => {
          for (const [id, r] of live) {
            if (r.deadline <= now) {
              reserved -= r.amount;
              live.delete(id);
            }
          }
        };

        const admit = async (i: number) => {
          const r = requests[i]!;
          expireModel();
          const expected: AdmitStatus =
            spent >= limit
              ? "limit_reached"
              : spent + reserved + r.reserve > limit
                ? "no_fit"
                : "ok";
          const result = await counters.admit(
            admitArgs(keyId, `req${i}`, { nowMs: now, reserve: r.reserve, limit }),
          );
          expect(result.status).toBe(expected);
          if (expected === "ok") {
            admitted.add(i);
            live.set(`req${i}`, { amount: r.reserve, deadline: now + ttlMs, crashed: false });
            reserved += r.reserve;
          }
          await check();
        };
        const end = async (i: number) => {
          if (!admitted.has(i)) return;
          const r = requests[i]!;
          const entry = live.get(`req${i}`);
          if (r.action === "crash") {
            if (entry) entry.crashed = true;
            return;
          }
          const cost = r.action === "release" ? 0n : r.cost;
          await counters.settle({
            keyId,
            windowId,
            requestId: `req${i}`,
            cost,
            tokens: null,
            trackSpend: true,
          });
          excess += excessOf(cost, entry?.amount ?? 0n);
          if (entry) {
            reserved -= entry.amount;
            live.delete(`req${i}`);
          }
          spent += cost;
          settledCosts += cost;
          await check();
        };
        // A live request's proxy pushes its deadline forward before the clock can pass it.
        const tick = async (step: number) => {
          for (const [id, entry] of live) {
            if (entry.crashed) continue;
            entry.deadline = now + step + ttlMs;
            await counters.extend(keyId, windowId, id, entry.deadline);
          }
          now += step;
        };

        const handles = [
          ...requests.map((_, i) =>
            s.scheduleSequence([
              { label: `admit#${i}`, builder: () => admit(i) },
              { label: `end#${i}`, builder: () => end(i) },
            ]),
          ),
          s.scheduleSequence(
            ticks.map((step, j) => ({ label: `tick#${j}+${step}`, builder: () => tick(step) })),
          ),
        ];
        await s.waitFor(Promise.all(handles.map((h) => h.task)));
        for (const h of handles) expect(h).toMatchObject({ done: true, faulty: false });

        // Past every deadline, one more admission expires every crashed reservation.
        now += ttlMs + 1;
        await counters.admit(admitArgs(keyId, "final", { nowMs: now, reserve: 0n, limit }));
        const final = await counters.read(keyId, windowId);
        expect(final).toEqual({ spent: settledCosts, reserved: 0n });
      }),
      { numRuns: 100 },
    );
  });

  it("holds the same invariants with truly concurrent calls over two connections", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenario, async (s, { limit, requests }) => {
        const keyId = freshKey();
        const windowId = "m202611";
        await counters.rebuild(keyId, windowId, 0n, 600);
        // Excess of every settlement sent so far: an upper bound on what Redis has applied.
        let excessSent = 0n;
        let settledCosts = 0n;
        let crashedHeld = 0n;
        const violations: string[] = [];

        const check = async () => {
          const c = await counters.read(keyId, windowId);
          // Read the bound after the answer: every settlement applied before it was sent before.
          if (c!.spent + c!.reserved > limit + excessSent)
            violations.push(
              `spent ${c!.spent} + reserved ${c!.reserved} > ${limit} + ${excessSent}`,
            );
        };

        const run = async (i: number) => {
          const r = requests[i]!;
          const via = i % 2 === 0 ? counters : otherCounters;
          await s.schedule(Promise.resolve(), `admit#${i}`);
          const result = await via.admit(
            admitArgs(keyId, `req${i}`, { nowMs: T0, reserve: r.reserve, limit }),
          );
          await check();
          if (result.status !== "ok") return;
          if (r.action === "crash") {
            crashedHeld += r.reserve;
            return;
          }
          await s.schedule(Promise.resolve(), `end#${i}`);
          const cost = r.action === "release" ? 0n : r.cost;
          excessSent += excessOf(cost, r.reserve);
          settledCosts += cost;
          await via.settle({
            keyId,
            windowId,
            requestId: `req${i}`,
            cost,
            tokens: null,
            trackSpend: true,
          });
          await check();
        };

        await s.waitFor(Promise.all(requests.map((_, i) => run(i))));
        expect(violations).toEqual([]);
        // Crashed reservations are still held until their deadline passes…
        expect(await counters.read(keyId, windowId)).toEqual({
          spent: settledCosts,
          reserved: crashedHeld,
        });
        // …and released by the first admission after it.
        await counters.admit(
          admitArgs(keyId, "final", { nowMs: T0 + ttlMs + 1, reserve: 0n, limit }),
        );
        expect(await counters.read(keyId, windowId)).toEqual({
          spent: settledCosts,
          reserved: 0n,
        });
        if (excessSent === 0n) expect(settledCosts).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// (b) Rebuild, missing counters, rate limits
// ---------------------------------------------------------------------------------------------

describe("rebuild", () => {
  it("only ever raises the counter; a first rebuild adds settlements that landed while it was missing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ rebuild: fc.bigInt({ min: 0n, max: 5n * 10n ** 13n }) }),
            fc.record({ settle: fc.bigInt({ min: 0n, max: 10n ** 12n }) }),
          ),
          { minLength: 1, maxLength: 12 },
        ),
        async (ops) => {
          const keyId = freshKey();
          let model: bigint | null = null;
          let pending = 0n;
          let n = 0;
          for (const op of ops) {
            if ("rebuild" in op) {
              const total = await counters.rebuild(keyId, "all", op.rebuild, -1);
              // Before the first rebuild, settlements are not in PostgreSQL's figure yet (after a
              // Redis restart they may be, and then count twice: the safe side).
              model =
                model === null ? op.rebuild + pending : op.rebuild > model ? op.rebuild : model;
              expect(total).toBe(model);
            } else {
              await counters.settle({
                keyId,
                windowId: "all",
                requestId: `s${n++}`,
                cost: op.settle,
                tokens: null,
                trackSpend: true,
              });
              if (model === null) pending += op.settle;
              else model += op.settle;
            }
            const read = await counters.read(keyId, "all");
            // A settlement on a never-rebuilt counter is kept, but the counter is not "there".
            if (model !== null) expect(read?.spent).toBe(model);
            else expect(read).toBeNull();
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it("keeps the live reservations when it raises the settled total", async () => {
    const keyId = freshKey();
    await counters.rebuild(keyId, "m202611", 1_000n, 600);
    const ok = await counters.admit(
      admitArgs(keyId, "a", { nowMs: T0, reserve: 500n, limit: 10_000n }),
    );
    expect(ok.status).toBe("ok");
    expect(await counters.rebuild(keyId, "m202611", 4_000n, 600)).toBe(4_000n);
    expect(await counters.rebuild(keyId, "m202611", 2_000n, 600)).toBe(4_000n);
    expect(await counters.read(keyId, "m202611")).toEqual({ spent: 4_000n, reserved: 500n });
    await counters.settle({
      keyId,
      windowId: "m202611",
      requestId: "a",
      cost: 300n,
      tokens: null,
      trackSpend: true,
    });
    expect(await counters.read(keyId, "m202611")).toEqual({ spent: 4_300n, reserved: 0n });
  });
});

describe("a missing counter", () => {
  it("answers missing, never admits as if it were zero, and records nothing", async () => {
    const keyId = freshKey();
    const limit = 1_000_000n;
    for (let i = 0; i < 3; i++) {
      const r = await counters.admit(
        admitArgs(keyId, `m${i}`, {
          nowMs: T0,
          reserve: 1n,
          limit,
          requestsPerMinute: 1,
          tokensPerMinute: 1_000,
          tokenEstimate: 10,
        }),
      );
      expect(r.status).toBe("missing");
    }
    expect(await counters.read(keyId, "m202611")).toBeNull();
    // Nothing was held and no rate slot was taken by the refused attempts.
    const k = counters.keys(keyId, "m202611");
    expect(await redis.exists(k.reservationAmounts, k.reservationDeadlines, k.requestLog)).toBe(0);
    expect(await redis.get(k.tokenTotal)).toBeNull();

    // Rebuilt from PostgreSQL's settled total, the counter starts there, not at zero.
    await counters.rebuild(keyId, "m202611", limit - 10n, 600);
    const tooBig = await counters.admit(
      admitArgs(keyId, "big", { nowMs: T0, reserve: 11n, limit, requestsPerMinute: 1 }),
    );
    expect(tooBig.status).toBe("no_fit");
    expect([tooBig.spent, tooBig.reserved]).toEqual([limit - 10n, 0n]);
    const fits = await counters.admit(
      admitArgs(keyId, "fits", { nowMs: T0, reserve: 10n, limit, requestsPerMinute: 1 }),
    );
    expect(fits.status).toBe("ok");
  });

  it("is missing per window: a new window needs its own rebuild", async () => {
    const keyId = freshKey();
    await counters.rebuild(keyId, "d20261231", 0n, 600);
    const args = (windowId: string, id: string) => ({
      ...admitArgs(keyId, id, { nowMs: T0, reserve: 1n, limit: 10n }),
      windowId,
    });
    expect((await counters.admit(args("d20261231", "a"))).status).toBe("ok");
    expect((await counters.admit(args("d20270101", "b"))).status).toBe("missing");
  });

  it("does not matter to a key without a limit (nothing is reserved)", async () => {
    const keyId = freshKey();
    const r = await counters.admit(admitArgs(keyId, "x", { nowMs: T0, reserve: 0n, limit: null }));
    expect(r.status).toBe("ok");
    expect(await counters.read(keyId, "m202611")).toBeNull();
  });
});

describe("rate limits", () => {
  const minute = 60_000;

  it("requestsPerMinute N admits exactly N within a minute, then again as the window slides", async () => {
    const keyId = freshKey();
    const rpm = 5;
    const admit = (id: string, nowMs: number) =>
      counters.admit(admitArgs(keyId, id, { nowMs, requestsPerMinute: rpm, tokenEstimate: 1 }));
    // Five admissions spread over the first 40 s of the minute.
    for (let i = 0; i < rpm; i++) expect((await admit(`r${i}`, T0 + i * 10_000)).status).toBe("ok");
    const refused = await admit("r5", T0 + 59_000);
    expect(refused.status).toBe("rate_requests");
    // The oldest admission (T0) leaves the window at T0 + 60 s.
    expect(refused.retryAfterMs).toBe(1_000);
    // A refused attempt takes no slot: still refused just before, admitted exactly then.
    expect((await admit("r6", T0 + minute - 1)).status).toBe("rate_requests");
    expect((await admit("r7", T0 + minute)).status).toBe("ok");
    // Full again: the next slot frees when the T0 + 10 s admission leaves.
    const again = await admit("r8", T0 + minute + 1);
    expect(again.status).toBe("rate_requests");
    expect(again.retryAfterMs).toBe(10_000 - 1);
    expect(again.retryAfterMs).toBeGreaterThan(0);
    // A whole quiet minute later, N more.
    for (let i = 0; i < rpm; i++)
      expect((await admit(`late${i}`, T0 + 3 * minute + i)).status).toBe("ok");
    expect((await admit("late5", T0 + 3 * minute + 10)).status).toBe("rate_requests");
  });

  it("is checked before the budget, and a refusal for either reason records nothing", async () => {
    const keyId = freshKey();
    await counters.rebuild(keyId, "m202611", 0n, 600);
    const admit = (id: string, reserve: bigint) =>
      counters.admit(
        admitArgs(keyId, id, { nowMs: T0, reserve, limit: 100n, requestsPerMinute: 2 }),
      );
    // Budget refusals do not use up the rate limit…
    expect((await admit("big", 101n)).status).toBe("no_fit");
    expect((await admit("a", 100n)).status).toBe("ok");
    await counters.settle({
      keyId,
      windowId: "m202611",
      requestId: "a",
      cost: 100n,
      tokens: null,
      trackSpend: true,
    });
    expect((await admit("b", 1n)).status).toBe("limit_reached");
    expect((await admit("c", 0n)).status).toBe("limit_reached");
    // …but once both would refuse, the rate limit answers.
    await counters.admit(admitArgs(keyId, "other", { nowMs: T0, requestsPerMinute: 2 }));
    expect((await admit("d", 1n)).status).toBe("rate_requests");
    expect(await counters.read(keyId, "m202611")).toEqual({ spent: 100n, reserved: 0n });
  });

  it("tokensPerMinute counts estimates at admission and actual tokens after settlement", async () => {
    const keyId = freshKey();
    const tpm = 1_000;
    const k = counters.keys(keyId, "all");
    const admit = (id: string, nowMs: number, tokenEstimate: number) =>
      counters.admit(admitArgs(keyId, id, { nowMs, tokensPerMinute: tpm, tokenEstimate }));
    const settle = (id: string, tokens: number) =>
      counters.settle({
        keyId,
        windowId: "all",
        requestId: id,
        cost: 0n,
        tokens,
        trackSpend: false,
      });
    expect((await admit("a", T0, 400)).status).toBe("ok");
    expect((await admit("b", T0 + 1_000, 400)).status).toBe("ok");
    const refused = await admit("c", T0 + 2_000, 400);
    expect(refused.status).toBe("rate_tokens");
    expect(refused.retryAfterMs).toBe(minute - 2_000);
    // "a" used 100 tokens, not 400: the correction frees 300 at once.
    await settle("a", 100);
    expect(await redis.get(k.tokenTotal)).toBe("500");
    expect((await admit("c", T0 + 3_000, 400)).status).toBe("ok");
    // Upwards too: "b" used 600, so 100 + 600 + 400 = 1,100 are counted.
    await settle("b", 600);
    expect(await redis.get(k.tokenTotal)).toBe("1100");
    expect((await admit("d", T0 + 4_000, 1)).status).toBe("rate_tokens");
    // As the minute slides the actual counts leave the window, not the estimates.
    expect((await admit("e", T0 + minute, 100)).status).toBe("rate_tokens"); // 600+400+100 > 1000
    expect((await admit("f", T0 + minute + 1_000, 100)).status).toBe("ok"); // 400+100
    expect(await redis.get(k.tokenTotal)).toBe("500");
    // Settling a request whose entry already left the window changes nothing.
    await settle("a", 900);
    expect(await redis.get(k.tokenTotal)).toBe("500");
    // A whole quiet minute later the total is back at zero.
    expect((await admit("g", T0 + 5 * minute, 1_000)).status).toBe("ok");
    expect(await redis.get(k.tokenTotal)).toBe("1000");
  });
});

describe("regressions", () => {
  const base = (keyId: string, requestId: string) => ({
    keyId,
    windowId: "all",
    requestId,
    deadlineMs: 10_000,
    requestsPerMinute: null,
    tokensPerMinute: null,
    tokenEstimate: 1,
    windowTtlSeconds: -1,
    nowMs: 1_000,
  });

  it("settles, releases and expires $0 reservations", async () => {
    const keyId = freshKey();
    await counters.rebuild(keyId, "all", 0n, -1);
    expect((await counters.admit({ ...base(keyId, "a"), reserve: 0n, limit: 100n })).status).toBe(
      "ok",
    );
    await counters.settle({
      keyId,
      windowId: "all",
      requestId: "a",
      cost: 0n,
      tokens: null,
      trackSpend: true,
    });
    expect((await counters.admit({ ...base(keyId, "b"), reserve: 0n, limit: 100n })).status).toBe(
      "ok",
    );
    // b crashed: its deadline passes and the next admission expires it without error.
    const later = await counters.admit({
      ...base(keyId, "c"),
      reserve: 0n,
      limit: 100n,
      nowMs: 20_000,
      deadlineMs: 30_000,
    });
    expect(later).toMatchObject({ status: "ok", spent: 0n, reserved: 0n });
  });

  it("handles amounts up to the $1,000,000 bound exactly", async () => {
    const keyId = freshKey();
    const limit = 1_000_000n * 1_000_000_000n;
    await counters.rebuild(keyId, "all", 123_456_789_012_345n, -1);
    const admitted = await counters.admit({
      ...base(keyId, "a"),
      reserve: 876_543_210_987_655n,
      limit,
    });
    expect(admitted).toMatchObject({
      status: "ok",
      spent: 123_456_789_012_345n,
      reserved: 876_543_210_987_655n,
    });
    const spent = await counters.settle({
      keyId,
      windowId: "all",
      requestId: "a",
      cost: 876_543_210_987_655n,
      tokens: null,
      trackSpend: true,
    });
    expect(spent).toBe(limit);
    expect((await counters.admit({ ...base(keyId, "b"), reserve: 0n, limit })).status).toBe(
      "limit_reached",
    );
  });

  it("checks rate limits before a key's limit flag", async () => {
    const keyId = freshKey();
    await counters.rebuild(keyId, "all", 0n, -1);
    const limited = {
      ...base(keyId, "a"),
      reserve: 1n,
      limit: 100n,
      requestsPerMinute: 1,
      flagged: true,
    };
    expect((await counters.admit(limited)).status).toBe("limit_reached");
    // The refusal recorded nothing, so the rate slot is still free: flag again.
    expect((await counters.admit({ ...limited, requestId: "b" })).status).toBe("limit_reached");
    const unflagged = await counters.admit({ ...limited, requestId: "c", flagged: false });
    expect(unflagged.status).toBe("ok");
    expect((await counters.admit({ ...limited, requestId: "d" })).status).toBe("rate_requests");
  });
});
