import type { RedisTarget } from "@osm/redis/target";

/** What the proxy runs with; `env.ts` builds it from the environment, tests build it directly. */
export type ProxyConfig = {
  databaseUrl: string;
  redis: RedisTarget;
  redisPrefix: string;
  secret: string;
  dataDir: string;
  allowPrivateUpstreams: boolean;
  maxBodyBytes: number;
  upstreamConnectMs: number;
  upstreamFirstByteMs: number;
  upstreamIdleMs: number;
  redisTimeoutMs: number;
  /** How long the usage inbox collects events before moving them into one job. */
  usageGroupWindowMs: number;
  minOutputTokens: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** CIDRs of the load balancers in front: only their X-Forwarded-For is believed. */
  trustedProxies: string[];
  port: number;
  metricsPort: number;
  shutdownGraceMs: number;
  logLevel: string;
  /** OTLP/HTTP collector for traces; unset, tracing is off and its SDK never loaded. */
  otlpEndpoint?: string;
};
