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
  minOutputTokens: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** CIDRs of the load balancers in front: only their X-Forwarded-For is believed. */
  trustedProxies: string[];
  port: number;
  metricsPort: number;
  shutdownGraceMs: number;
  logLevel: string;
};
