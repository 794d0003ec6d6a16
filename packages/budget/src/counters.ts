import type { RedisClient } from "@osm/redis/connect";
import { type KeyCounters, keyCounters } from "./redis-key-names.ts";
import {
  admitScript,
  extendScript,
  rebuildScript,
  reconcileScript,
  settleScript,
} from "./scripts.ts";

export type AdmitStatus =
  | "ok"
  | "missing"
  | "limit_reached"
  | "no_fit"
  | "rate_requests"
  | "rate_tokens";

export type AdmitRequest = {
  keyId: string;
  windowId: string;
  requestId: string;
  /** Worst-case cost held until settlement, nano-USD. */
  reserve: bigint;
  /** null: the key has no spending limit (nothing is reserved). */
  limit: bigint | null;
  deadlineMs: number;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
  tokenEstimate: number;
  windowTtlSeconds: number;
  nowMs: number;
  /** The key is marked as having hit its limit: refused after the rate limits. */
  flagged?: boolean;
};

export type AdmitResult = {
  status: AdmitStatus;
  spent: bigint;
  reserved: bigint;
  retryAfterMs: number;
};

export type SettleRequest = {
  keyId: string;
  windowId: string;
  requestId: string;
  cost: bigint;
  /** Actual tokens to correct the per-minute token log; null when the key has no token limit. */
  tokens: number | null;
  /** False for keys without a limit: only the rate log is touched. */
  trackSpend: boolean;
  /** The request's usage event, appended to this usage inbox in the same script call. */
  record?: { inbox: string; event: string };
};

type Scripts = {
  osmAdmit(...args: (string | number)[]): Promise<[AdmitStatus, string, string, string]>;
  osmSettle(...args: (string | number)[]): Promise<string>;
  osmSettleRecord(...args: (string | number)[]): Promise<string>;
  osmExtend(...args: (string | number)[]): Promise<number>;
  osmRebuild(...args: (string | number)[]): Promise<string>;
  osmReconcile(...args: (string | number)[]): Promise<[string, string]>;
};

/**
 * The live per-key counters: reservation at admission, settlement at the end, extension while
 * a stream lives, rebuild from PostgreSQL when Redis lost them. One script call each.
 */
export class BudgetCounters {
  private readonly redis: RedisClient & Scripts;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
  ) {
    defineScripts(redis);
    this.redis = redis as RedisClient & Scripts;
  }

  keys(keyId: string, windowId: string): KeyCounters {
    return keyCounters(this.prefix, keyId, windowId);
  }

  async admit(r: AdmitRequest): Promise<AdmitResult> {
    const k = this.keys(r.keyId, r.windowId);
    const [status, spent, reserved, retry] = await this.redis.osmAdmit(
      k.budget,
      k.reservationDeadlines,
      k.reservationAmounts,
      k.requestLog,
      k.tokenLog,
      k.tokenAmounts,
      k.tokenTotal,
      r.nowMs,
      r.requestId,
      r.limit === null ? "0" : r.reserve.toString(),
      r.limit === null ? -1 : r.limit.toString(),
      r.deadlineMs,
      r.requestsPerMinute ?? -1,
      r.tokensPerMinute ?? -1,
      r.tokenEstimate,
      r.windowTtlSeconds,
      r.flagged ? "1" : "0",
    );
    return {
      status,
      spent: BigInt(spent),
      reserved: BigInt(reserved),
      retryAfterMs: Number(retry),
    };
  }

  async settle(r: SettleRequest): Promise<bigint> {
    const k = this.keys(r.keyId, r.windowId);
    const keys = [
      k.budget,
      k.reservationDeadlines,
      k.reservationAmounts,
      k.tokenAmounts,
      k.tokenTotal,
    ];
    const args = [r.requestId, r.cost.toString(), r.tokens ?? -1, r.trackSpend ? "1" : "0"];
    const spent = r.record
      ? await this.redis.osmSettleRecord(...keys, r.record.inbox, ...args, r.record.event)
      : await this.redis.osmSettle(...keys, ...args);
    return BigInt(spent);
  }

  async extend(
    keyId: string,
    windowId: string,
    requestId: string,
    deadlineMs: number,
  ): Promise<void> {
    await this.redis.osmExtend(
      this.keys(keyId, windowId).reservationDeadlines,
      requestId,
      deadlineMs,
    );
  }

  async rebuild(
    keyId: string,
    windowId: string,
    settledFromDb: bigint,
    ttlSeconds: number,
  ): Promise<bigint> {
    return BigInt(
      await this.redis.osmRebuild(
        this.keys(keyId, windowId).budget,
        settledFromDb.toString(),
        ttlSeconds,
      ),
    );
  }

  /** Raises a drifted counter to PostgreSQL's settled total and releases expired reservations. */
  async reconcile(
    keyId: string,
    windowId: string,
    settledFromDb: bigint,
    nowMs: number,
  ): Promise<{ raisedBy: bigint; expiredReservations: number }> {
    const k = this.keys(keyId, windowId);
    const [raised, expired] = await this.redis.osmReconcile(
      k.budget,
      k.reservationDeadlines,
      k.reservationAmounts,
      settledFromDb.toString(),
      nowMs,
    );
    return { raisedBy: BigInt(raised), expiredReservations: Number(expired) };
  }

  /** Live spend and reservations of one window, or null when Redis holds no counter for it. */
  async read(keyId: string, windowId: string): Promise<{ spent: bigint; reserved: bigint } | null> {
    const [spent, reserved, init] = await this.redis.hmget(
      this.keys(keyId, windowId).budget,
      "spent",
      "reserved",
      "init",
    );
    if (init === null) return null;
    return { spent: BigInt(spent ?? "0"), reserved: BigInt(reserved ?? "0") };
  }
}

function defineScripts(redis: RedisClient) {
  const target = redis as RedisClient & Partial<Scripts>;
  if (target.osmAdmit) return;
  redis.defineCommand("osmAdmit", { numberOfKeys: 7, lua: admitScript });
  redis.defineCommand("osmSettle", { numberOfKeys: 5, lua: settleScript });
  redis.defineCommand("osmSettleRecord", { numberOfKeys: 6, lua: settleScript });
  redis.defineCommand("osmExtend", { numberOfKeys: 1, lua: extendScript });
  redis.defineCommand("osmRebuild", { numberOfKeys: 1, lua: rebuildScript });
  redis.defineCommand("osmReconcile", { numberOfKeys: 3, lua: reconcileScript });
}
