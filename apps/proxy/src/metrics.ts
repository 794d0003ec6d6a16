import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export function createProxyMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "osm_proxy_" });
  return {
    registry,
    requests: new Counter({
      name: "osm_proxy_requests_total",
      help: "Gateway requests by outcome and code",
      labelNames: ["outcome", "code"] as const,
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
      labelNames: ["stream"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    overhead: new Histogram({
      name: "osm_proxy_overhead_seconds",
      help: "Gateway time before the upstream request is sent",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05],
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
    usagePending: new Gauge({
      name: "osm_proxy_usage_pending",
      help: "Usage events waiting to be enqueued",
      registers: [registry],
    }),
    redisRoundTrips: new Counter({
      name: "osm_proxy_redis_round_trips_total",
      help: "Redis round trips made for requests, by phase (usage: one group-committed append shared by many)",
      labelNames: ["phase"] as const,
      registers: [registry],
    }),
    usageSpilled: new Gauge({
      name: "osm_proxy_usage_spilled",
      help: "Usage events written to the spill file because Redis could not take them",
      registers: [registry],
    }),
  };
}
export type ProxyMetrics = ReturnType<typeof createProxyMetrics>;
