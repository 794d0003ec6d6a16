import type { IncomingMessage, ServerResponse } from "node:http";
import type { BudgetCounters } from "@osm/budget/counters";
import type { Db } from "@osm/db/client";
import type { Invalidation } from "@osm/jobs/invalidation";
import type { CryptoBox } from "@osm/keys/crypto-box";
import type { RedisClient } from "@osm/redis/connect";
import type { Logger } from "pino";
import { type Actor, resolveActor } from "./actor.ts";
import type { LoginThrottle } from "./auth/login-throttle.ts";
import { sessionCookieName } from "./auth/session-cookie.ts";
import type { ApiConfig } from "./config.ts";

/** Long-lived dependencies, created once per process. */
export type ApiServices = {
  db: Db;
  redis: RedisClient;
  config: ApiConfig;
  box: CryptoBox;
  log: Logger;
  throttle: LoginThrottle;
  /** Live spend counters (read only here; the proxies write them). */
  counters: BudgetCounters;
  /** Publishes after the caller's transaction committed. */
  publish(invalidation: Invalidation): Promise<void>;
  /** Injected clock: tests move time without sleeping. */
  now(): Date;
};

export type Context = ApiServices & {
  req: IncomingMessage;
  res: ServerResponse;
  /** The client's address, as the socket sees it. */
  ip: string;
  /** Sent back as x-request-id; internal errors are logged under it. */
  requestId: string;
  actor: Actor | null;
  invalidCredentials: boolean;
};

export async function createContext(
  services: ApiServices,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
): Promise<Context> {
  const { actor, invalidCredentials } = await resolveActor(
    req,
    services.db,
    services.config.masterKey,
    services.now(),
    sessionCookieName(services.config.publicUrl),
  );
  return {
    ...services,
    req,
    res,
    ip: req.socket.remoteAddress ?? "unknown",
    requestId,
    actor,
    invalidCredentials,
  };
}
