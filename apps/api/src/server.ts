import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { BudgetCounters } from "@osm/budget/counters";
import { createDb } from "@osm/db/client";
import { invalidationChannel } from "@osm/jobs/invalidation";
import { createCryptoBox } from "@osm/keys/crypto-box";
import { type MetricsServer, serveMetrics } from "@osm/observability/metrics-server";
import { answerReadiness, type ReadinessChecks } from "@osm/observability/readiness";
import { createRedis, pingEveryMaster } from "@osm/redis/connect";
import { nodeHTTPRequestHandler } from "@trpc/server/adapters/node-http";
import { pino } from "pino";
import { createLoginThrottle } from "./auth/login-throttle.ts";
import { answerDeclaredTooLarge, closeUnfinishedUploadAfter413 } from "./body-limit.ts";
import type { ApiConfig } from "./config.ts";
import { type ApiServices, createContext } from "./context.ts";
import { crossSiteRefusal } from "./cross-site.ts";
import { type ApiMetrics, createApiMetrics } from "./metrics.ts";
import { appRouter } from "./router/root.ts";
import { serveDashboard } from "./static-files.ts";

export type RunningApi = {
  server: Server;
  port: number;
  url: string;
  /** Prometheus `/metrics`, `/healthz` and `/readyz`, off the public port. */
  metricsPort: number;
  metricsUrl: string;
  services: ApiServices;
  close(): Promise<void>;
};

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
}

/** Most procedures one batched request may call: each runs its own queries. */
export const maxBatchSize = 20;

export function createServices(
  config: ApiConfig,
  overrides: Partial<Pick<ApiServices, "now">> = {},
): ApiServices {
  const { db } = createDb({ url: config.databaseUrl, max: 10, applicationName: "osm-api" });
  const redis = createRedis(config.redis, { maxRetriesPerRequest: 2 });
  const log = pino({ level: config.logLevel, base: { app: "api" } });
  const channel = invalidationChannel(config.redisPrefix);
  return {
    db,
    redis,
    config,
    box: createCryptoBox(config.secret),
    log,
    throttle: createLoginThrottle(redis, config.redisPrefix),
    counters: new BudgetCounters(redis, config.redisPrefix),
    publish: async (invalidation) => {
      await redis.publish(channel, JSON.stringify(invalidation));
    },
    now: overrides.now ?? (() => new Date()),
  };
}

// Calls in progress when the API is stopped get this long to answer before they are cut.
const shutdownGraceMs = 5_000;

function readinessOf(services: ApiServices): ReadinessChecks {
  const sql = services.db.$client as unknown as (q: TemplateStringsArray) => Promise<unknown>;
  return { postgres: () => sql`select 1`, redis: () => pingEveryMaster(services.redis) };
}

export function createApiHandler(services: ApiServices, metrics: ApiMetrics) {
  const readiness = readinessOf(services);
  const allowedOrigins = new Set(services.config.dashboardOrigins);
  return async (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Referrer-Policy", "no-referrer");
    const url = req.url ?? "/";
    if (url === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (url === "/readyz") return answerReadiness(res, readiness);
    if (url.startsWith("/trpc/") || url === "/trpc") {
      const refusal = crossSiteRefusal(req, allowedOrigins);
      if (refusal) {
        return sendJson(res, 403, {
          error: {
            message: `Forbidden: ${refusal}.`,
            code: -32003,
            data: { code: "FORBIDDEN", httpStatus: 403 },
          },
        });
      }
      const limit = services.config.maxBodyBytes;
      if (Number(req.headers["content-length"] ?? 0) > limit) {
        return answerDeclaredTooLarge(req, res, limit);
      }
      closeUnfinishedUploadAfter413(req, res);
      const requestId = randomUUID();
      res.setHeader("x-request-id", requestId);
      const path = new URL(url, "http://x").pathname.slice("/trpc/".length);
      const started = process.hrtime.bigint();
      const failures = new Map<string, string>();
      await nodeHTTPRequestHandler({
        req,
        res,
        path,
        router: appRouter,
        maxBodySize: limit,
        maxBatchSize,
        createContext: ({ req, res }) => createContext(services, req, res, requestId),
        onError: ({ error, path }) => {
          if (path !== undefined) failures.set(path, error.code);
          if (error.code === "INTERNAL_SERVER_ERROR")
            services.log.error({ err: error.cause ?? error, path, requestId }, "procedure failed");
        },
      });
      metrics.observe(path, failures, Number(process.hrtime.bigint() - started) / 1e9);
      return;
    }
    serveDashboard(services.config.dashboardDir, req, res);
  };
}

export async function startApi(
  config: ApiConfig,
  overrides: Partial<Pick<ApiServices, "now">> = {},
): Promise<RunningApi> {
  const services = createServices(config, overrides);
  const metrics = createApiMetrics(Object.keys(appRouter._def.procedures));
  const handler = createApiHandler(services, metrics);
  const server = createServer((req, res) => {
    handler(req, res).catch((err) => {
      services.log.error({ err }, "request failed");
      if (!res.headersSent) sendJson(res, 500, { error: { message: "Internal error" } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(config.port, "0.0.0.0", resolve));
  const port = (server.address() as AddressInfo).port;
  let metricsServer: MetricsServer;
  try {
    metricsServer = await serveMetrics({
      registry: metrics.registry,
      port: config.metricsPort,
      log: services.log,
      readiness: readinessOf(services),
    });
  } catch (err) {
    server.close();
    throw err;
  }
  // Links the API hands out (invitations) default to its own address.
  services.config = { ...config, publicUrl: config.publicUrl ?? `http://127.0.0.1:${port}` };
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    metricsPort: metricsServer.port,
    metricsUrl: `http://127.0.0.1:${metricsServer.port}`,
    services,
    async close() {
      // Calls in progress finish (up to the grace period); idle keep-alive sockets go at once.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = setTimeout(() => server.closeAllConnections(), shutdownGraceMs);
      await closed;
      clearTimeout(deadline);
      await metricsServer.close();
      services.redis.disconnect();
      await (services.db.$client as { end(o: { timeout: number }): Promise<void> }).end({
        timeout: 5,
      });
    },
  };
}
