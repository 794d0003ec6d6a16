import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { answerReadiness, type ReadinessChecks } from "./readiness.ts";

export type MetricsServer = { port: number; close(): Promise<void> };

/**
 * `/metrics` (Prometheus text), `/healthz` and, given checks, `/readyz` on a plain node:http
 * server of their own: scrapes and probes stay off the public port. Port 0 picks one.
 */
export async function serveMetrics(options: {
  registry: Registry;
  port: number;
  log: Logger;
  /** Run before each scrape: gauges that are read rather than kept up to date. */
  beforeScrape?: () => void;
  readiness?: ReadinessChecks;
  host?: string;
}): Promise<MetricsServer> {
  const { registry, log, readiness } = options;
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
    } else if (path === "/metrics") {
      options.beforeScrape?.();
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (err: unknown) => {
          log.error({ err }, "metrics collection failed");
          res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n");
        },
      );
    } else if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz" && readiness) {
      void answerReadiness(res, readiness);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.off("error", reject);
      resolve();
    };
    if (options.host) server.listen(options.port, options.host, done);
    else server.listen(options.port, done);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
