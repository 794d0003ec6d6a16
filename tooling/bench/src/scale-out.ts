import { performance } from "node:perf_hooks";
import type { Redis } from "ioredis";
import { type LoadResult, type LoadTarget, runLoad } from "./load.ts";
import { commandStats, diffCounts } from "./redis-probe.ts";
import type { BenchStack } from "./stack.ts";
import { ledgerCount, waitForDrain } from "./worker-probe.ts";

export type ScaleOutRun = {
  proxies: number;
  connections: number;
  reqPerS: number;
  errors: number;
  sent: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU µs per request of each proxy (in order), the worker, Redis and PostgreSQL. */
  proxyUs: number[];
  workerUs: number;
  redisUs: number;
  postgresUs: number;
  stackUs: number;
  redisCommandsPerRequest: number;
  drainS: number;
  ingestComplete: boolean;
};

/**
 * The model behind "projected req/s": the stack is CPU-bound, every process but Redis scales
 * out (more proxies, workers and PostgreSQL backends), so N cores serve N × 10⁶ / stack µs/req
 * requests a second, until Redis, single-threaded, saturates one core at 10⁶ / Redis µs/req.
 */
export function projectedReqPerS(run: ScaleOutRun, cores: number): number {
  const cpuBound = run.stackUs > 0 ? (cores * 1e6) / run.stackUs : 0;
  const redisBound = run.redisUs > 0 ? 1e6 / run.redisUs : Number.POSITIVE_INFINITY;
  return Math.min(cpuBound, redisBound);
}

/** osm with its load spread evenly over the first `proxies` proxy processes. */
export async function measureScaleOut(
  stack: BenchStack,
  redis: Redis,
  target: (origin: string) => LoadTarget,
  run: { proxies: number; connections: number; warmupMs: number; durationMs: number },
  signal: AbortSignal,
): Promise<ScaleOutRun> {
  const proxies = stack.proxies.slice(0, run.proxies);
  const baseline = await ledgerCount(stack.sql, stack.keyId);
  const cpu = () => ({
    proxies: proxies.map((p) => p.child.cpuSeconds() ?? 0),
    worker: stack.worker.cpuSeconds() ?? 0,
    redis: stack.redisCpuSeconds() ?? 0,
    postgres: stack.postgresCpuSeconds() ?? 0,
  });
  const statsBefore = await commandStats(redis);
  const before = cpu();
  const loadStartedAt = performance.now();
  const each = Math.max(1, Math.round(run.connections / proxies.length));
  const loads: LoadResult[] = await Promise.all(
    proxies.map((p) =>
      runLoad(target(p.url), {
        connections: each,
        warmupMs: run.warmupMs,
        durationMs: run.durationMs,
        signal,
      }),
    ),
  );
  const loadEndedAt = performance.now();
  const sent = loads.reduce((a, l) => a + l.totalSent, 0);
  const drain = await waitForDrain({
    sql: stack.sql,
    keyId: stack.keyId,
    metricsUrl: stack.workerMetricsUrl,
    baseline,
    expected: sent,
    loadStartedAt,
    loadEndedAt,
    seen: { count: baseline, lastChangeAt: loadStartedAt },
    timeoutMs: 60_000,
    signal,
  });
  const after = cpu();
  const commands = diffCounts(statsBefore, await commandStats(redis));
  // The probe's own two INFO calls are not the stack's.
  const total = Object.values(commands).reduce((a, b) => a + b, 0) - 1;
  const per = (seconds: number) => (sent > 0 ? (seconds * 1e6) / sent : 0);
  const proxyUs = after.proxies.map((s, i) => per(s - before.proxies[i]!));
  const workerUs = per(after.worker - before.worker);
  const redisUs = per(after.redis - before.redis);
  const postgresUs = per(after.postgres - before.postgres);
  // Latency percentiles of the busiest proxy's clients: the spread between proxies is small.
  const busiest = loads.reduce((a, b) => (b.latency.count > a.latency.count ? b : a));
  return {
    proxies: proxies.length,
    connections: each * proxies.length,
    reqPerS: loads.reduce((a, l) => a + l.reqPerS, 0),
    errors: loads.reduce((a, l) => a + l.errors, 0),
    sent,
    p50Ms: busiest.latency.p50Ms,
    p99Ms: busiest.latency.p99Ms,
    proxyUs,
    workerUs,
    redisUs,
    postgresUs,
    stackUs: proxyUs.reduce((a, b) => a + b, 0) + workerUs + redisUs + postgresUs,
    redisCommandsPerRequest: sent > 0 ? total / sent : 0,
    drainS: drain.drainS,
    ingestComplete: drain.complete,
  };
}

export function formatScaleOut(runs: readonly ScaleOutRun[], cores: readonly number[]): string {
  const us = (n: number) => n.toFixed(0);
  const lines = [
    "Scale-out (osm, json; load split evenly over the proxies; CPU µs per request of all requests, drain included):",
    "",
    `| proxies | conns | req/s | errors | p50 | p99 | proxy µs/req (each) | worker | Redis | PostgreSQL | stack | Redis commands/req | drain | ${cores.map((n) => `projected req/s, ${n} cores`).join(" | ")} |`,
    `|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|${cores.map(() => "---:").join("|")}|`,
  ];
  for (const r of runs)
    lines.push(
      `| ${r.proxies} | ${r.connections} | ${r.reqPerS.toFixed(0)} | ${r.errors} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.proxyUs.map(us).join(" + ")} | ${us(r.workerUs)} | ${us(r.redisUs)} | ${us(r.postgresUs)} | ${us(r.stackUs)} | ${r.redisCommandsPerRequest.toFixed(1)} | ${r.drainS.toFixed(2)} s${r.ingestComplete ? "" : " (incomplete)"} | ${cores.map((n) => projectedReqPerS(r, n).toFixed(0)).join(" | ")} |`,
    );
  lines.push(
    "",
    "Projection: N × 10⁶ / stack µs/req (every process but Redis scales out over the cores), capped at 10⁶ / Redis µs/req (Redis is single-threaded). Proxy 1 runs on core 0, proxy 2 on core 1 beside everything else when pinned.",
  );
  return lines.join("\n");
}
