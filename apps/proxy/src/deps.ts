import type { Db } from "@osm/db/client";
import type { Logger } from "pino";
import type { Agent } from "undici";
import type { AdmissionControl } from "./admission/admission.ts";
import type { AuthFailureThrottle } from "./auth-failure-throttle.ts";
import type { CatalogCache } from "./cache/catalog-cache.ts";
import type { KeyCache } from "./cache/key-cache.ts";
import type { SeenVersions } from "./cache/versions.ts";
import type { ProxyConfig } from "./config.ts";
import type { ClientAddressResolver } from "./http/client-address.ts";
import type { InflightRegistry } from "./inflight.ts";
import type { ProxyMetrics } from "./metrics.ts";
import type { ResponseDirectory } from "./responses/directory.ts";
import type { UsageEmitter } from "./usage/usage-emitter.ts";

/** Everything a request handler uses, built once per process. */
export type GatewayDeps = {
  config: ProxyConfig;
  db: Db;
  log: Logger;
  keys: KeyCache;
  catalogs: CatalogCache;
  versions: SeenVersions;
  agent: Agent;
  usage: UsageEmitter;
  inflight: InflightRegistry;
  responses: ResponseDirectory;
  admission: AdmissionControl;
  authFailures: AuthFailureThrottle;
  clientAddress: ClientAddressResolver;
  metrics: ProxyMetrics;
  now(): Date;
};
