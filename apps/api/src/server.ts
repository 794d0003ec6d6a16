import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { BudgetCounters } from "@osm/budget/counters";
import { createDb } from "@osm/db/client";
import { invalidationChannel } from "@osm/jobs/invalidation";
import { createCryptoBox } from "@osm/keys/crypto-box";
import { createRedis } from "@osm/redis/connect";
import { nodeHTTPRequestHandler } from "@trpc/server/adapters/node-http";
import { pino } from "pino";
import { createLoginThrottle } from "./auth/login-throttle.ts";
import type { ApiConfig } from "./config.ts";
import { type ApiServices, createContext } from "./context.ts";
import { crossSiteRefusal } from "./cross-site.ts";
import { appRouter } from "./router/root.ts";
import { serveDashboard } from "./static-files.ts";

export type RunningApi = {
  server: Server;
  port: number;
  url: string;
  services: ApiServices;
  close(): Promise<void>;
};

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
}

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

export function createApiHandler(services: ApiServices) {
  const allowedOrigins = new Set(services.config.dashboardOrigins);
  return async (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Referrer-Policy", "no-referrer");
    const url = req.url ?? "/";
    if (url === "/healthz") return sendJson(res, 200, { status: "ok" });
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
      const path = new URL(url, "http://x").pathname.slice("/trpc/".length);
      await nodeHTTPRequestHandler({
        req,
        res,
        path,
        router: appRouter,
        createContext: ({ req, res }) => createContext(services, req, res),
        onError: ({ error, path }) => {
          if (error.code === "INTERNAL_SERVER_ERROR")
            services.log.error({ err: error.cause ?? error, path }, "procedure failed");
        },
      });
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
  const handler = createApiHandler(services);
  const server = createServer((req, res) => {
    handler(req, res).catch((err) => {
      services.log.error({ err }, "request failed");
      if (!res.headersSent) sendJson(res, 500, { error: { message: "Internal error" } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(config.port, "0.0.0.0", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    services,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      services.redis.disconnect();
      await (services.db.$client as { end(o: { timeout: number }): Promise<void> }).end({
        timeout: 5,
      });
    },
  };
}
