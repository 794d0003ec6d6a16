import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { GatewayError } from "./errors.ts";

const secondsBuckets = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** What a refused admission counts as: the reason the budget or rate gate gave. */
export function admissionOutcome(err: unknown): string {
  if (err instanceof GatewayError) {
    if (err.code === "rate_limit_exceeded") return "rate_limited";
    if (err.code === "spending_limit_reached") return "budget_refused";
  }
  return "unavailable";
}

/**
 * One registry per proxy (not prom-client's global one), so several proxies in one test
 * process keep their own counts. Hot-path updates are label lookups and additions only.
 */
export function createProxyMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "osm_proxy_" });
  return {
    registry,
    requests: new Counter({
      name: "osm_proxy_requests_total",
      help: "Gateway requests by route, HTTP status, outcome and error code",
      labelNames: ["route", "status", "outcome", "code"] as const,
      registers: [registry],
    }),
    authFailures: new Counter({
      name: "osm_proxy_auth_failures_total",
      help: "Requests refused before a key was identified",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: "osm_proxy_request_seconds",
      help: "Time from request to the end of the response",
      labelNames: ["route", "stream"] as const,
      buckets: secondsBuckets,
      registers: [registry],
    }),
    upstreamLatency: new Histogram({
      name: "osm_proxy_upstream_seconds",
      help: "Time from sending the upstream request to the end of the response",
      labelNames: ["route", "stream"] as const,
      buckets: secondsBuckets,
      registers: [registry],
    }),
    overhead: new Histogram({
      name: "osm_proxy_overhead_seconds",
      help: "Gateway time before the upstream request is sent",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05],
      registers: [registry],
    }),
    admissions: new Counter({
      name: "osm_proxy_admissions_total",
      help: "Budget and rate admissions: reserved, unmetered (no limit), rate_limited, budget_refused, unavailable",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    seenVersion: new Gauge({
      name: "osm_proxy_seen_version",
      help: "Highest change version received from invalidations (propagation is asserted on it)",
      registers: [registry],
    }),
    overReservation: new Counter({
      name: "osm_proxy_usage_over_reservation_total",
      help: "Requests whose provider reported more usage than was reserved (charged in full)",
      registers: [registry],
    }),
    inflight: new Gauge({
      name: "osm_proxy_inflight",
      help: "Requests in flight",
      registers: [registry],
    }),
    redisRoundTrips: new Counter({
      name: "osm_proxy_redis_round_trips_total",
      help: "Redis round trips made for requests, by phase (usage: one group-committed append shared by many)",
      labelNames: ["phase"] as const,
      registers: [registry],
    }),
  };
}
export type ProxyMetrics = ReturnType<typeof createProxyMetrics>;

type CacheStats = { lookups: number; misses: number };
type UsageStats = { pending: number; spilled: number; sent: number };
type SpillDepth = () => Promise<{ files: number; bytes: number }>;

/** Figures the proxy's parts keep themselves, read at scrape time rather than on each request. */
export function observeParts(
  metrics: ProxyMetrics,
  parts: { caches: Record<string, CacheStats>; usage: UsageStats; spillDepth: SpillDepth },
): void {
  const registers = [metrics.registry];
  new Counter({
    name: "osm_proxy_cache_lookups_total",
    help: "In-memory cache lookups by cache (key, catalog) and result (hit, miss)",
    labelNames: ["cache", "result"] as const,
    registers,
    collect() {
      this.reset();
      for (const [cache, stats] of Object.entries(parts.caches)) {
        this.inc({ cache, result: "hit" }, stats.lookups - stats.misses);
        this.inc({ cache, result: "miss" }, stats.misses);
      }
    },
  });
  new Gauge({
    name: "osm_proxy_usage_pending",
    help: "Usage events waiting to be enqueued",
    registers,
    collect() {
      this.set(parts.usage.pending);
    },
  });
  new Counter({
    name: "osm_proxy_usage_spilled_total",
    help: "Usage events written to the spill file because Redis could not take them",
    registers,
    collect() {
      this.reset();
      this.inc(parts.usage.spilled);
    },
  });
  new Gauge({
    name: "osm_proxy_usage_spill_bytes",
    help: "Bytes of usage events waiting in spill files to be replayed into the queue",
    registers,
    async collect() {
      this.set((await parts.spillDepth()).bytes);
    },
  });
  new Counter({
    name: "osm_proxy_usage_enqueued_total",
    help: "Usage events handed to the queue",
    registers,
    collect() {
      this.reset();
      this.inc(parts.usage.sent);
    },
  });
}
