import { Redis } from "ioredis";

export type CommandCounts = Record<string, number>;

/** One field of `INFO commandstats` per command (commands run inside Lua scripts included). */
async function commandField(redis: Redis, field: "calls" | "usec"): Promise<CommandCounts> {
  const text = await redis.info("commandstats");
  const pattern = new RegExp(`^cmdstat_([^:]+):.*\\b${field}=(\\d+)`);
  const out: CommandCounts = {};
  for (const line of text.split("\n")) {
    const m = pattern.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Calls per command. */
export function commandStats(redis: Redis): Promise<CommandCounts> {
  return commandField(redis, "calls");
}

/** Microseconds Redis spent per command (a script's time includes its inner commands, which are
 * also listed on their own). */
export function commandTimes(redis: Redis): Promise<CommandCounts> {
  return commandField(redis, "usec");
}

export function diffCounts(before: CommandCounts, after: CommandCounts): CommandCounts {
  const out: CommandCounts = {};
  for (const [name, n] of Object.entries(after)) {
    const d = n - (before[name] ?? 0);
    if (d > 0) out[name] = d;
  }
  return out;
}

/** The proxy's own count of Redis round trips per request phase, from its /metrics. */
export async function proxyRoundTrips(metricsUrl: string): Promise<Record<string, number> | null> {
  try {
    const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return null;
    const out: Record<string, number> = {};
    for (const line of (await res.text()).split("\n")) {
      const m = /^osm_proxy_redis_round_trips_total\{phase="([^"]+)"\} (\S+)/.exec(line);
      if (m) out[m[1]!] = Number(m[2]);
    }
    return out;
  } catch {
    return null;
  }
}

export function connectRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
}
