import { type AdmitResult, BudgetCounters } from "@osm/budget/counters";
import { type BudgetWindow, budgetWindow } from "@osm/budget/redis-key-names";
import type { Db } from "@osm/db/client";
import { settledSpend } from "@osm/db/queries/keys";
import { formatUsd } from "@osm/policy/money";
import { affordableOutputTokens, type Prices, reservationCost } from "@osm/policy/pricing";
import type { Logger } from "pino";
import type { CachedKey } from "../cache/key-cache.ts";
import { GatewayError } from "../errors.ts";
import { admissionOutcome, type ProxyMetrics } from "../metrics.ts";

/** What admission needs of the process: built before, and apart from, the gateway's deps. */
export type AdmissionDeps = {
  db: Db;
  log: Logger;
  /** Below this many affordable output tokens a request without max_tokens is refused. */
  minOutputTokens: number;
  admissions: ProxyMetrics["admissions"];
  roundTrips: ProxyMetrics["redisRoundTrips"];
};

/** A reservation held for one request, settled (or released) exactly once when it ends. */
export type Admission = {
  keyId: string;
  windowId: string;
  requestId: string;
  reserved: bigint;
  /** The output bound the upstream gets (clamped to what the budget affords). */
  outputBound: number;
  trackSpend: boolean;
  rateLimited: boolean;
};

export type AdmissionInput = {
  key: CachedKey;
  requestId: string;
  prices: Prices;
  promptTokens: number;
  /** The client's explicit max_tokens / max_completion_tokens, never lowered silently. */
  explicitOutput: number | undefined;
  /** The field the client set it in, named by a refusal (max_tokens when absent). */
  outputParam?: string | undefined;
  /** The bound without a budget: min(model, key policy). */
  defaultOutput: number;
  n: number;
  now: Date;
};

// A reservation outlives its request only if the proxy died: then it expires after this long.
// Live streams push the deadline forward every third of it.
export const reservationTtlMs = 120_000;

const unavailable = () =>
  new GatewayError(
    "service_unavailable",
    "The gateway cannot check this key's spending or rate limits right now; try again shortly.",
  );

function retrySeconds(ms: number) {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * Rate limits then budget, in one Redis round trip. Keys with neither never touch Redis here.
 * A missing counter is rebuilt from PostgreSQL before anything is admitted for that key.
 */
export class AdmissionControl {
  private readonly rebuilding = new Map<string, Promise<void>>();
  /** Reservations of requests still running; settle() removes them. */
  private readonly live = new Set<Admission>();

  constructor(
    private readonly deps: AdmissionDeps,
    private readonly counters: BudgetCounters,
  ) {
    // A live request keeps its reservation: one timer for all of them moves their deadlines
    // forward, rather than a timer per request on the hot path.
    setInterval(() => {
      const now = Date.now();
      for (const admission of this.live) void this.extend(admission, now);
    }, reservationTtlMs / 3).unref();
  }

  async admit(input: AdmissionInput): Promise<Admission | null> {
    try {
      const admission = await this.decide(input);
      this.deps.admissions.inc({ outcome: admission ? "reserved" : "unmetered" });
      return admission;
    } catch (err) {
      this.deps.admissions.inc({ outcome: admissionOutcome(err) });
      throw err;
    }
  }

  private async decide(input: AdmissionInput): Promise<Admission | null> {
    const { key } = input;
    const rate = key.policy.rateLimit;
    const rateLimited = Boolean(rate?.requestsPerMinute || rate?.tokensPerMinute);
    const limit = key.spendLimit;
    if (limit === null && !rateLimited) return null;
    const window = budgetWindow(key.budgetPeriod, key.spendResetAt, input.now);
    let outputBound = input.explicitOutput ?? input.defaultOutput;

    for (let attempt = 0; attempt < 4; attempt++) {
      const reserve = reservationCost(
        { promptTokens: input.promptTokens, outputTokens: outputBound, n: input.n },
        input.prices,
      );
      let result: AdmitResult;
      this.deps.roundTrips.inc({ phase: "admit" });
      try {
        result = await this.counters.admit({
          keyId: key.id,
          windowId: window.id,
          requestId: input.requestId,
          reserve,
          limit,
          deadlineMs: input.now.getTime() + reservationTtlMs,
          requestsPerMinute: rate?.requestsPerMinute ?? null,
          tokensPerMinute: rate?.tokensPerMinute ?? null,
          tokenEstimate: input.promptTokens + outputBound * input.n,
          windowTtlSeconds: window.ttlSeconds,
          nowMs: input.now.getTime(),
          flagged: key.limitReached,
        });
      } catch (err) {
        this.deps.log.warn({ err, keyId: key.id }, "admission failed: redis unavailable");
        throw unavailable();
      }
      switch (result.status) {
        case "ok": {
          const admission: Admission = {
            keyId: key.id,
            windowId: window.id,
            requestId: input.requestId,
            reserved: limit === null ? 0n : reserve,
            outputBound,
            trackSpend: limit !== null,
            rateLimited,
          };
          if (admission.trackSpend) this.live.add(admission);
          return admission;
        }
        case "missing":
          await this.rebuild(key, window);
          continue;
        case "rate_requests":
          throw new GatewayError(
            "rate_limit_exceeded",
            `Rate Limit Exceeded: this key allows ${rate?.requestsPerMinute} requests per minute.`,
            { retryAfterSeconds: retrySeconds(result.retryAfterMs) },
          );
        case "rate_tokens":
          throw new GatewayError(
            "rate_limit_exceeded",
            `Rate Limit Exceeded: this key allows ${rate?.tokensPerMinute} tokens per minute.`,
            { retryAfterSeconds: retrySeconds(result.retryAfterMs) },
          );
        case "limit_reached":
          throw limitReached(limit!);
        case "no_fit": {
          const remaining = limit! - result.spent - result.reserved;
          const affordable = affordableOutputTokens(
            remaining > 0n ? remaining : 0n,
            input.promptTokens,
            input.n,
            input.prices,
            outputBound,
          );
          if (input.explicitOutput !== undefined) {
            throw new GatewayError(
              "spending_limit_reached",
              affordable > 0
                ? `Spending Limit Reached: ${input.outputParam ?? "max_tokens"} ${input.explicitOutput} could exceed this key's remaining budget; at most ${affordable} tokens fit.`
                : `Spending Limit Reached: this request could exceed this key's remaining budget of $${formatUsd(remaining > 0n ? remaining : 0n)}.`,
              { param: input.outputParam ?? "max_tokens" },
            );
          }
          if (affordable < this.deps.minOutputTokens) {
            throw new GatewayError(
              "spending_limit_reached",
              `Spending Limit Reached: this key's remaining budget of $${formatUsd(remaining > 0n ? remaining : 0n)} no longer fits a request of ${this.deps.minOutputTokens} output tokens.`,
              { limitHit: true },
            );
          }
          outputBound = affordable;
          continue;
        }
      }
    }
    throw unavailable();
  }

  /**
   * Settles at the actual cost, and appends the request's usage event to its inbox in the same
   * script call when `record` is given: true once both are in Redis. A failure here is repaired
   * by reconciliation, never retried twice; the caller then records the event another way.
   */
  async settle(
    admission: Admission,
    cost: bigint,
    tokens: number,
    record?: { inbox: string; event: string },
  ): Promise<boolean> {
    this.live.delete(admission);
    this.deps.roundTrips.inc({ phase: "settle" });
    try {
      await this.counters.settle({
        keyId: admission.keyId,
        windowId: admission.windowId,
        requestId: admission.requestId,
        cost,
        tokens: admission.rateLimited ? tokens : null,
        trackSpend: admission.trackSpend,
        ...(record ? { record } : {}),
      });
      return true;
    } catch (err) {
      this.deps.log.warn(
        { err, keyId: admission.keyId, requestId: admission.requestId },
        "settlement failed",
      );
      return false;
    }
  }

  async extend(admission: Admission, now: number): Promise<void> {
    if (!admission.trackSpend) return;
    this.deps.roundTrips.inc({ phase: "extend" });
    await this.counters
      .extend(admission.keyId, admission.windowId, admission.requestId, now + reservationTtlMs)
      .catch(() => {});
  }

  // One rebuild per counter at a time: a thousand requests on a brand-new key read PostgreSQL once.
  private rebuild(key: CachedKey, window: BudgetWindow): Promise<void> {
    const id = `${key.id}:${window.id}`;
    const running = this.rebuilding.get(id);
    if (running) return running;
    const work = (async () => {
      const totals = await settledSpend(this.deps.db, new Map([[key.id, window]]));
      const settled = totals.get(key.id)?.window ?? 0n;
      this.deps.roundTrips.inc({ phase: "rebuild" });
      try {
        await this.counters.rebuild(key.id, window.id, settled, window.ttlSeconds);
      } catch {
        throw unavailable();
      }
    })().finally(() => this.rebuilding.delete(id));
    this.rebuilding.set(id, work);
    return work;
  }
}

function limitReached(limit: bigint) {
  return new GatewayError(
    "spending_limit_reached",
    `Spending Limit Reached: This API key has reached its spending limit of $${formatUsd(limit)}.`,
    { limitHit: true },
  );
}

export { BudgetCounters };
