import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { Sql } from "postgres";

export type QueueSample = { lagS: number; waiting: number; active: number; delayed: number };

/** Reads the worker's own view of the usage queue from its Prometheus text. */
export async function scrapeQueue(metricsUrl: string): Promise<QueueSample | null> {
  let text: string;
  try {
    const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return null;
    text = await res.text();
  } catch {
    return null;
  }
  const sample: QueueSample = { lagS: 0, waiting: 0, active: 0, delayed: 0 };
  for (const line of text.split("\n")) {
    if (line.startsWith("osm_worker_queue_lag_seconds{")) {
      sample.lagS = Math.max(sample.lagS, Number(line.slice(line.lastIndexOf(" ") + 1)) || 0);
    } else if (line.startsWith("osm_worker_queue_depth{")) {
      const state = /state="([^"]+)"/.exec(line)?.[1];
      const value = Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
      if (state === "waiting" || state === "active" || state === "delayed") sample[state] += value;
    }
  }
  return sample;
}

/**
 * Events landed for the bench key: its daily spend rows count every allowed request, and a
 * primary-key lookup keeps the probe from costing PostgreSQL the CPU a count(*) over a growing
 * ledger would (PostgreSQL's CPU is part of what the bench measures).
 */
export async function ledgerCount(sql: Sql, keyId: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select coalesce(sum(requests), 0)::int as n from key_spend_daily where key_id = ${keyId}`;
  return row?.n ?? 0;
}

/**
 * Samples the worker's queue lag and the ledger row count every `everyMs` until stopped: the
 * maximum lag is what the report shows, and the last count change dates the last row landed.
 */
export function watchIngest(sql: Sql, keyId: string, metricsUrl: string, everyMs: number) {
  let maxLagS = 0;
  let maxWaiting = 0;
  let scrapes = 0;
  let failures = 0;
  let count = -1;
  let lastChangeAt = performance.now();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      const [sample, rows] = await Promise.all([
        scrapeQueue(metricsUrl),
        ledgerCount(sql, keyId).catch(() => null),
      ]);
      if (sample) {
        scrapes++;
        maxLagS = Math.max(maxLagS, sample.lagS);
        maxWaiting = Math.max(maxWaiting, sample.waiting);
      } else failures++;
      if (rows !== null && rows !== count) {
        count = rows;
        lastChangeAt = performance.now();
      }
      await sleep(Math.max(0, everyMs - (performance.now() - started)));
    }
  })();
  return {
    /** The ledger count last seen and when it last changed. */
    peek: () => ({ count, lastChangeAt }),
    async stop() {
      stopped = true;
      await loop;
      return { maxLagS, maxWaiting, scrapes, failures };
    },
  };
}

export type DrainResult = {
  /** Ledger rows added since the load started. */
  ingested: number;
  expected: number;
  /** True when every expected row landed; false when the wait ended on an idle queue or timeout. */
  complete: boolean;
  /** From the end of the load until the last row landed. */
  drainS: number;
  /** From the start of the load (warm-up included) until the last row landed. */
  totalS: number;
  eventsPerS: number;
};

/**
 * Polls the ledger after the load until every request sent through the proxy has its row.
 * A request that produced no event (an error before authentication) would hold this forever,
 * so an empty queue with a ledger count unchanged for a second also ends the wait.
 */
export async function waitForDrain(options: {
  sql: Sql;
  keyId: string;
  metricsUrl: string;
  baseline: number;
  expected: number;
  loadStartedAt: number;
  loadEndedAt: number;
  /** The watcher's last reading, so rows that landed during the load are dated correctly. */
  seen: { count: number; lastChangeAt: number };
  timeoutMs: number;
  signal: AbortSignal;
}): Promise<DrainResult> {
  const deadline = performance.now() + options.timeoutMs;
  let count = await ledgerCount(options.sql, options.keyId);
  let lastChangeAt = count === options.seen.count ? options.seen.lastChangeAt : performance.now();
  let complete = false;
  while (performance.now() < deadline && !options.signal.aborted) {
    if (count - options.baseline >= options.expected) {
      complete = true;
      break;
    }
    if (performance.now() - lastChangeAt > 1_000) {
      const q = await scrapeQueue(options.metricsUrl);
      if (q && q.waiting + q.active + q.delayed === 0) break;
    }
    await sleep(50);
    const next = await ledgerCount(options.sql, options.keyId);
    if (next !== count) {
      count = next;
      lastChangeAt = performance.now();
    }
  }
  const ingested = count - options.baseline;
  const landedAt = lastChangeAt;
  const totalS = (landedAt - options.loadStartedAt) / 1000;
  return {
    ingested,
    expected: options.expected,
    complete,
    drainS: Math.max(0, landedAt - options.loadEndedAt) / 1000,
    totalS,
    eventsPerS: totalS > 0 ? ingested / totalS : 0,
  };
}
