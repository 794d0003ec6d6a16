import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { type LoadTarget, runLoad } from "./load.ts";
import type { BenchStack } from "./stack.ts";
import { ledgerCount } from "./worker-probe.ts";

export type IngestCapacity = {
  connections: number;
  loadS: number;
  /** The proxy's event rate with the worker stopped: its peak, nothing else on the cores. */
  peakEventsPerS: number;
  /** Events queued by the load, all of which the fresh worker had to land. */
  backlog: number;
  landed: number;
  /** From the first event landed to the last: the worker's start-up is not in it. */
  drainS: number;
  ingestEventsPerS: number;
  /** ingest ÷ peak; target 4 asks for ≥ 2. */
  ratio: number;
  /** CPU µs per event landed over the drain, of the processes that did the ingest. */
  perEventUs: { worker: number; redis: number; postgres: number };
};

type Reading = { atMs: number; count: number; worker: number; redis: number; postgres: number };

function read(stack: BenchStack, count: number): Reading {
  return {
    atMs: performance.now(),
    count,
    worker: stack.worker.cpuSeconds() ?? 0,
    redis: stack.redisCpuSeconds() ?? 0,
    postgres: stack.postgresCpuSeconds() ?? 0,
  };
}

/**
 * Target 4 measured as a backlog: the worker is stopped, osm json runs at full load for
 * `loadS` (the proxy moves every event into BullMQ jobs as it does live), then a fresh worker
 * starts and lands the whole backlog. Its rate from the first event landed to the last is what
 * one core ingests: the worker shares core 1 with Redis and PostgreSQL, which are part of the
 * ingest too, and the proxy's core is idle by then.
 */
export async function measureIngestCapacity(
  stack: BenchStack,
  target: LoadTarget,
  options: { loadS: number; connections: number },
  signal: AbortSignal,
): Promise<IngestCapacity> {
  await stack.stopWorker();
  const baseline = await ledgerCount(stack.sql, stack.keyId);
  const load = await runLoad(target, {
    connections: options.connections,
    warmupMs: 1_000,
    durationMs: options.loadS * 1000,
    signal,
  });
  // Every event is in the queue before the worker starts: the proxy moves its inbox each 50 ms.
  await sleep(500);
  // Polled from the restart on: a worker consumes before its health check answers.
  const restarted = stack.restartWorker();
  restarted.catch(() => undefined); // awaited after the loop, which rethrows

  // The poll before the first landing dates the drain's start, so its first batch counts.
  let before = read(stack, baseline);
  let first: Reading | null = null;
  let last: Reading | null = null;
  let count = baseline;
  const deadline = performance.now() + 120_000;
  while (count - baseline < load.totalSent && performance.now() < deadline && !signal.aborted) {
    await sleep(25);
    const next = await ledgerCount(stack.sql, stack.keyId);
    if (next === count) {
      if (!first) before = read(stack, count);
      continue;
    }
    first ??= before;
    count = next;
    last = read(stack, count);
  }
  await restarted;
  if (!first || !last) throw new Error("ingest capacity: the restarted worker landed nothing");
  const landed = last.count - first.count;
  const drainS = (last.atMs - first.atMs) / 1000;
  const ingestEventsPerS = drainS > 0 ? landed / drainS : 0;
  const peakEventsPerS = load.reqPerS;
  const per = (a: number, b: number) => (landed > 0 ? ((b - a) * 1e6) / landed : 0);
  return {
    connections: options.connections,
    loadS: options.loadS,
    peakEventsPerS,
    backlog: load.totalSent,
    landed: count - baseline,
    drainS,
    ingestEventsPerS,
    ratio: peakEventsPerS > 0 ? ingestEventsPerS / peakEventsPerS : 0,
    perEventUs: {
      worker: per(first.worker, last.worker),
      redis: per(first.redis, last.redis),
      postgres: per(first.postgres, last.postgres),
    },
  };
}

export function formatIngestCapacity(r: IngestCapacity): string {
  const u = r.perEventUs;
  return [
    `Ingest capacity: osm json ×${r.connections} for ${r.loadS} s with the worker stopped (${r.peakEventsPerS.toFixed(0)} events/s, the proxy's peak), then a fresh worker landed the ${r.backlog}-event backlog: ${r.landed} landed, ${r.ingestEventsPerS.toFixed(0)} events/s over ${r.drainS.toFixed(2)} s on one core (worker, Redis and PostgreSQL on core 1).`,
    `- 4. ingest ÷ peak: ${r.ratio.toFixed(2)}× (target ≥ 2×: ${r.ratio >= 2 ? "yes" : "NO"}); CPU per event over the drain: worker ${u.worker.toFixed(0)} µs, Redis ${u.redis.toFixed(0)} µs, PostgreSQL ${u.postgres.toFixed(0)} µs.`,
  ].join("\n");
}
