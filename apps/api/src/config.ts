import type { RedisTarget } from "@osm/redis/target";

/** What the API runs with; `env.ts` builds it from the environment, tests build it directly. */
export type ApiConfig = {
  databaseUrl: string;
  redis: RedisTarget;
  redisPrefix: string;
  secret: string;
  masterKey?: string;
  admin?: { email: string; password: string };
  allowPrivateUpstreams: boolean;
  /** Origins allowed to send mutations besides the API's own. */
  dashboardOrigins: string[];
  dataDir: string;
  dashboardDir?: string;
  port: number;
  /** Where `/metrics`, `/healthz` and `/readyz` are served, apart from the public port. */
  metricsPort: number;
  /** Largest request body the API reads; larger ones are answered 413 before they are buffered. */
  maxBodyBytes: number;
  /** Where people reach the API and dashboard (invitation links); defaults to the API's own origin. */
  publicUrl?: string;
  development: boolean;
  logLevel: string;
};
