import { performance } from "node:perf_hooks";
import { Pool } from "undici";
import { LatencyRecorder, type LatencySummary } from "./latency.ts";

export type LoadTarget = {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  stream: boolean;
  /** Bearer secrets taken in turn, one per request (the soak spreads its load over many keys). */
  secrets?: readonly string[];
};

export type LoadOptions = {
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** Ends the run early (SIGINT): in-flight requests finish, nothing new starts. */
  signal: AbortSignal;
};

export type LoadResult = {
  connections: number;
  durationS: number;
  /** Requests started inside the measured window (warm-up excluded). */
  requests: number;
  reqPerS: number;
  latency: LatencySummary;
  /** Streams only: time to the first body byte (the first SSE event). */
  firstByte: LatencySummary | null;
  /** Non-200 answers, transport failures and streams that ended without `[DONE]`. */
  errors: number;
  errorKinds: Record<string, number>;
  /** Every request sent, warm-up included: what the proxy should have turned into usage events. */
  totalSent: number;
  bytesPerResponse: number;
};

const doneMarker = "data: [DONE]";

/**
 * Closed loop: each of `connections` virtual clients sends a request, reads the whole body,
 * and sends the next one, so concurrency is fixed and throughput is what the target sustains.
 * A request counts in the results when it starts inside the measured window.
 */
export async function runLoad(target: LoadTarget, options: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(target.origin, {
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const latency = new LatencyRecorder();
  const firstByte = target.stream ? new LatencyRecorder() : null;
  const errorKinds: Record<string, number> = {};
  let errors = 0;
  let totalSent = 0;
  let bytes = 0;
  const fail = (kind: string, measured: boolean) => {
    if (!measured) return;
    errors++;
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };

  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const measureTo = measureFrom + options.durationMs;

  const client = async () => {
    while (!options.signal.aborted) {
      const t0 = performance.now();
      if (t0 >= measureTo) return;
      const measured = t0 >= measureFrom;
      const secret = target.secrets?.[totalSent % target.secrets.length];
      totalSent++;
      try {
        const res = await pool.request({
          method: "POST",
          path: target.path,
          headers: secret
            ? { ...target.headers, authorization: `Bearer ${secret}` }
            : target.headers,
          body: target.body,
        });
        let first = 0;
        let size = 0;
        // Only the tail is kept: enough to see the stream's final `[DONE]`.
        let tail = "";
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          if (first === 0) first = performance.now();
          size += chunk.length;
          if (target.stream) tail = (tail + chunk.toString("latin1")).slice(-64);
        }
        const t1 = performance.now();
        if (res.statusCode !== 200) {
          fail(`http_${res.statusCode}`, measured);
          continue;
        }
        if (target.stream && !tail.includes(doneMarker)) {
          fail("stream_incomplete", measured);
          continue;
        }
        if (!measured) continue;
        latency.record(t1 - t0);
        firstByte?.record((first || t1) - t0);
        bytes += size;
      } catch (err) {
        fail((err as { code?: string }).code ?? "transport_error", measured);
      }
    }
  };

  await Promise.all(Array.from({ length: options.connections }, client));
  await pool.close();

  const durationS =
    Math.min(options.durationMs, Math.max(0, performance.now() - measureFrom)) / 1000;
  const summary = latency.summary();
  const requests = summary.count + errors;
  return {
    connections: options.connections,
    durationS,
    requests,
    reqPerS: durationS > 0 ? summary.count / durationS : 0,
    latency: summary,
    firstByte: firstByte?.summary() ?? null,
    errors,
    errorKinds,
    totalSent,
    bytesPerResponse: summary.count > 0 ? Math.round(bytes / summary.count) : 0,
  };
}
