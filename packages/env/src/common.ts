import {
  oneRedisIssue,
  type RedisEnv,
  redisEnvFields,
  redisTargetFromEnv,
} from "@osm/redis/target";
import { type ZodObject, type ZodRawShape, z } from "zod";

/** `true`/`false`/`1`/`0`: anything else is a typo worth stopping for, not a silent false. */
export const booleanFlag = z
  .enum(["true", "false", "1", "0"])
  .transform((v) => v === "true" || v === "1");

export const port = z.coerce.number().int().min(0).max(65535);

export const milliseconds = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

export const logLevel = z
  .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
  .default("info");

/**
 * The variables every app reads: where the data lives (one Redis by REDIS_URL or a Redis Cluster
 * by OSM_REDIS_CLUSTER), the instance secret, log verbosity.
 */
export const commonEnv = {
  DATABASE_URL: z.url(),
  ...redisEnvFields,
  OSM_SECRET: z.string().min(32, "must be at least 32 characters"),
  OSM_REDIS_PREFIX: z.string().min(1).default("osm:"),
  OSM_ALLOW_PRIVATE_UPSTREAMS: booleanFlag.default(false),
  LOG_LEVEL: logLevel,
};

export type CommonEnv = z.infer<z.ZodObject<typeof commonEnv>>;

/** An app's env schema: the common variables, its own, and the rules that span both Redis forms. */
export function appEnvSchema<S extends ZodRawShape>(shape: S) {
  return z.object({ ...commonEnv, ...shape }).superRefine((env, ctx) => {
    // No app redefines the Redis variables, so the common fragment's view of them holds.
    const issue = oneRedisIssue(env as RedisEnv);
    if (issue) ctx.addIssue({ code: "custom", ...issue });
  });
}

/** The common variables as every app's config carries them. */
export function commonConfig(e: CommonEnv) {
  return {
    databaseUrl: e.DATABASE_URL,
    redis: redisTargetFromEnv(e),
    redisPrefix: e.OSM_REDIS_PREFIX,
    secret: e.OSM_SECRET,
    allowPrivateUpstreams: e.OSM_ALLOW_PRIVATE_UPSTREAMS,
    logLevel: e.LOG_LEVEL,
  };
}

export type EnvResult<T> = { ok: true; config: T } | { ok: false; line: string };

/**
 * Validates `env` against `schema` and maps it with `toConfig`, or names the first invalid
 * variable in one line (`osm <app>: invalid NAME: why`). Never exits: each app's main.ts prints
 * the line and exits, so tests can check the message.
 */
export function parseEnv<S extends ZodRawShape, T>(
  app: string,
  schema: ZodObject<S>,
  env: NodeJS.ProcessEnv,
  toConfig: (parsed: z.infer<ZodObject<S>>) => T | string,
): EnvResult<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, line: `osm ${app}: invalid ${issue?.path.join(".")}: ${issue?.message}` };
  }
  const config = toConfig(parsed.data);
  // A cross-variable rule that failed comes back as its own "NAME: why" text.
  if (typeof config === "string") return { ok: false, line: `osm ${app}: invalid ${config}` };
  return { ok: true, config };
}
