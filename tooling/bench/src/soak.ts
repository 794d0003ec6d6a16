import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { type LoadResult, type LoadTarget, runLoad } from "./load.ts";
import type { BenchStack } from "./stack.ts";

export type RssSample = { atS: number; proxyMiB: number; workerMiB: number | null };

export type SoakResult = {
  durationS: number;
  keys: number;
  connections: number;
  reqPerS: number;
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  sampleEveryS: number;
  /** Samples before this are warm-up (the key cache filling, the heap growing to its size). */
  warmupS: number;
  samples: RssSample[];
  /** After warm-up: the proxy's RSS range around its median, in % of the median. */
  minMiB: number;
  maxMiB: number;
  medianMiB: number;
  spreadPct: number;
  /** Every sample after warm-up within ±10 % of the median. */
  flat: boolean;
};

const mib = (bytes: number | null) => (bytes === null ? null : bytes / 2 ** 20);

/**
 * Full load for `durationS` on the first proxy, each request with the next of `secrets` (so
 * the proxy's key cache holds them all), sampling the proxy's resident memory as it goes.
 */
export async function runSoak(
  stack: BenchStack,
  target: LoadTarget,
  run: { durationS: number; connections: number; keys: number; sampleEveryS: number },
  signal: AbortSignal,
): Promise<SoakResult> {
  const samples: RssSample[] = [];
  const started = performance.now();
  let done = false;
  const sampler = (async () => {
    while (!done && !signal.aborted) {
      const proxy = mib(stack.proxy.rssBytes());
      const worker = mib(stack.worker.rssBytes());
      if (proxy !== null)
        samples.push({
          atS: Number(((performance.now() - started) / 1000).toFixed(1)),
          proxyMiB: Number(proxy.toFixed(1)),
          workerMiB: worker === null ? null : Number(worker.toFixed(1)),
        });
      await sleep(run.sampleEveryS * 1000, undefined, { signal }).catch(() => {});
    }
  })();
  let load: LoadResult;
  try {
    load = await runLoad(target, {
      connections: run.connections,
      warmupMs: 0,
      durationMs: run.durationS * 1000,
      signal,
    });
  } finally {
    done = true;
    await sampler;
  }
  // The first fifth, at least a minute, is warm-up: the heap grows to its working size.
  const warmupS = Math.min(run.durationS / 2, Math.max(60, run.durationS / 5));
  const steady = samples.filter((s) => s.atS >= warmupS).map((s) => s.proxyMiB);
  const sorted = [...steady].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const min = sorted[0] ?? 0;
  const max = sorted.at(-1) ?? 0;
  const spreadPct = median > 0 ? (100 * Math.max(max - median, median - min)) / median : 0;
  return {
    durationS: load.durationS,
    keys: run.keys,
    connections: run.connections,
    reqPerS: load.reqPerS,
    requests: load.requests,
    errors: load.errors,
    p50Ms: load.latency.p50Ms,
    p99Ms: load.latency.p99Ms,
    sampleEveryS: run.sampleEveryS,
    warmupS,
    samples,
    minMiB: min,
    maxMiB: max,
    medianMiB: median,
    spreadPct,
    flat: sorted.length > 0 && spreadPct <= 10,
  };
}

export function formatSoak(s: SoakResult): string {
  const first = s.samples[0]?.proxyMiB;
  return [
    `Soak: ${s.durationS.toFixed(0)} s at ${s.connections} connections over ${s.keys} keys: ${s.reqPerS.toFixed(0)} req/s, ${s.requests} requests, ${s.errors} errors, p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms.`,
    `- 7. proxy RSS after ${s.warmupS.toFixed(0)} s of warm-up: median ${s.medianMiB.toFixed(1)} MiB, ${s.minMiB.toFixed(1)}–${s.maxMiB.toFixed(1)} MiB (±${s.spreadPct.toFixed(1)} %; flat within ±10 %: ${s.flat ? "yes" : "NO"}); ${first ?? "-"} MiB at the start; ${s.samples.length} samples every ${s.sampleEveryS} s in the JSON (soak.samples).`,
  ].join("\n");
}
