import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/**
 * Requests by procedure and tRPC code, and their latency. Procedure names come from the router,
 * never from the URL as sent: an unknown path is counted as "unknown", so a scan cannot grow
 * the series without bound.
 */
export function createApiMetrics(procedures: Iterable<string>) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "osm_api_" });
  const known = new Set(procedures);
  const requests = new Counter({
    name: "osm_api_requests_total",
    help: "tRPC calls by procedure and result code (OK, or the TRPCError code)",
    labelNames: ["procedure", "code"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "osm_api_request_seconds",
    help: "Time from request to response per procedure (a batch counts for each of its calls)",
    labelNames: ["procedure"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return {
    registry,
    /** `path` is the URL's procedure list ("a,b" for a batch); `errors` the code per failed one. */
    observe(path: string, errors: Map<string, string>, seconds: number) {
      for (const name of path.split(",")) {
        const procedure = known.has(name) ? name : "unknown";
        requests.inc({ procedure, code: errors.get(name) ?? "OK" });
        latency.observe({ procedure }, seconds);
      }
    },
  };
}
export type ApiMetrics = ReturnType<typeof createApiMetrics>;
