import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createDb } from "@osm/db/client";
import { runMigrations } from "@osm/db/migrate";
import { freePort } from "@osm/services/ports";
import { startPostgres } from "@osm/services/postgres";
import { startRedis } from "@osm/services/redis";
import { apiClient, startTestApi, testMasterKey, testSecret } from "@osm/testing/api";
import { type Child, findPid, pinToCore, spawnTsx, treeCpuSeconds } from "./child.ts";
import { portkeyEntry } from "./portkey.ts";

/** Everything started is undone in reverse order, on success, error and SIGINT alike. */
export class Cleanup {
  private steps: { name: string; run: () => unknown }[] = [];
  private running: Promise<void> | null = null;

  add(name: string, run: () => unknown): void {
    this.steps.push({ name, run });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.run();
        } catch (err) {
          process.stderr.write(`bench: cleanup of ${step.name} failed: ${String(err)}\n`);
        }
      }
      this.steps = [];
    })();
    return this.running;
  }
}

async function waitHealthy(child: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!child.running()) throw new Error(`${child.name} exited during start`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${child.name} not healthy at ${url} after ${timeoutMs} ms`);
}

export type BenchStack = Awaited<ReturnType<typeof startStack>>;

// The children's stop grace: the proxy flushes usage on SIGTERM, the worker finishes its batch.
const stopGraceMs = 15_000;

export type StackOptions = {
  profileDir?: string;
  /** Gateways under test on core 0, everything else (this process and its services) on core 1. */
  pin: boolean;
  /** Start Portkey OSS beside osm (installed outside the workspace on first use). */
  portkey: boolean;
  /** Load pg_stat_statements into the bench's PostgreSQL (a restart after initdb). */
  pgStatements: boolean;
  /** Proxy processes to start (scale-out; default 1). */
  proxies?: number;
};

/** The built app when `pnpm build` made one, else its TypeScript through tsx. */
function appEntry(root: string, app: "proxy" | "worker"): string {
  const built = `apps/${app}/dist/main.js`;
  return existsSync(join(root, built)) ? built : `apps/${app}/src/main.ts`;
}

export async function startStack(root: string, cleanup: Cleanup, options: StackOptions) {
  const tmp = mkdtempSync(join(tmpdir(), "osm-bench-"));
  cleanup.add("temp dir", () => rmSync(tmp, { recursive: true, force: true }));
  // Pinned before anything starts, so PostgreSQL, Redis and every helper inherit core 1.
  const pinned = options.pin && availableParallelism() >= 2 && pinToCore(process.pid, 1);
  const gatewayCpu = pinned ? 0 : undefined;

  const [pgPort, redisPort, proxyPort, proxyMetricsPort, workerPort, floorPort, portkeyPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const pg = startPostgres({ dataDir: tmp, port: pgPort, ephemeral: true });
  cleanup.add("postgres", () => pg.stop());
  if (options.pgStatements) {
    const boot = createDb({ url: pg.adminUrl, max: 1, applicationName: "osm-bench" });
    await boot.sql.unsafe("alter system set shared_preload_libraries = 'pg_stat_statements'");
    await boot.close();
    pg.stop();
    pg.start();
  }
  // Its own process group: a terminal Ctrl-C must not take Redis away before the proxy has
  // flushed its usage and the worker has closed (PostgreSQL's postmaster detaches by itself).
  const redis = await startRedis({ port: redisPort, ownProcessGroup: true });
  cleanup.add("redis", () => redis.stop());

  // For the CPU columns: the postmaster (its backends are its children) and redis-server,
  // which retitles itself `redis-server 127.0.0.1:PORT`.
  const postmaster = Number(
    readFileSync(join(tmp, "pgdata", "postmaster.pid"), "utf8").split("\n", 1)[0],
  );
  const redisPid = findPid(["redis-server", `:${redisPort}`]);

  const admin = createDb({ url: pg.adminUrl, max: 1, applicationName: "osm-bench" });
  await admin.sql.unsafe("create database osm_bench");
  await admin.close();
  const databaseUrl = pg.urlFor("osm_bench");
  await runMigrations(databaseUrl);
  if (options.pgStatements) {
    const stats = createDb({ url: databaseUrl, max: 1, applicationName: "osm-bench" });
    await stats.sql.unsafe("create extension if not exists pg_stat_statements");
    await stats.close();
  }

  const handle = createDb({ url: databaseUrl, max: 2, applicationName: "osm-bench" });
  cleanup.add("bench database pool", () => handle.close());
  // The shape the test helpers take; createTestServices itself needs vitest's inject().
  const services: Parameters<typeof startTestApi>[0] = {
    databaseUrl,
    redis: { mode: "single", url: redis.url },
    redisPrefix: "bench:",
    db: handle.db,
    sql: handle.sql,
    close: () => handle.close(),
  };

  const dataDir = join(tmp, "data");
  mkdirSync(dataDir);
  const api = await startTestApi(services, { dataDir, logLevel: "warn" });
  cleanup.add("api", () => api.close());

  // Only what the children need: a DATABASE_URL or OSM_* in the caller's shell must not leak in.
  const baseEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    LOG_LEVEL: "warn",
    // Passed on for A/B runs of the proxy's group window.
    ...(process.env.OSM_USAGE_GROUP_WINDOW_MS
      ? { OSM_USAGE_GROUP_WINDOW_MS: process.env.OSM_USAGE_GROUP_WINDOW_MS }
      : {}),
  };

  const fake = spawnTsx(
    "fake-provider",
    root,
    "tooling/fake-provider/src/main.ts",
    { ...baseEnv, FAKE_PROVIDER_PORT: "0", FAKE_PROVIDER_HOST: "127.0.0.1" },
    { quietStdout: true },
  );
  cleanup.add("fake provider", () => fake.stop(stopGraceMs));
  const announced = await fake.firstLine;
  const fakeUrl = /https?:\/\/\S+/.exec(announced)?.[0];
  if (!fakeUrl) throw new Error(`fake provider announced no URL: ${announced}`);

  // A function, so the ingest-capacity run can stop the worker and start a fresh one.
  const spawnWorker = () =>
    spawnTsx(
      "worker",
      root,
      appEntry(root, "worker"),
      {
        ...baseEnv,
        DATABASE_URL: databaseUrl,
        REDIS_URL: redis.url,
        OSM_REDIS_PREFIX: services.redisPrefix,
        OSM_SECRET: testSecret,
        OSM_ALLOW_PRIVATE_UPSTREAMS: "true",
        WORKER_METRICS_PORT: String(workerPort),
      },
      options.profileDir
        ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${join(options.profileDir, "worker")}`] }
        : {},
    );
  let worker = spawnWorker();
  cleanup.add("worker", () => worker.stop(stopGraceMs));

  const proxyEntry = appEntry(root, "proxy");
  // Extra Node/V8 flags for the proxies only (an A/B of, say, --max-semi-space-size).
  const proxyNodeArgs = (process.env.OSM_BENCH_PROXY_NODE_ARGS ?? "").split(" ").filter(Boolean);
  // Scale-out: proxy i on core i (of two), so two proxies get a core each; the second shares
  // its core with everything else, which the report says.
  const startProxy = async (index: number) => {
    const [port, metricsPort] =
      index === 0 ? [proxyPort, proxyMetricsPort] : [await freePort(), await freePort()];
    const child = spawnTsx(
      index === 0 ? "proxy" : `proxy${index + 1}`,
      root,
      proxyEntry,
      {
        ...baseEnv,
        DATABASE_URL: databaseUrl,
        REDIS_URL: redis.url,
        OSM_REDIS_PREFIX: services.redisPrefix,
        OSM_SECRET: testSecret,
        OSM_DATA_DIR: dataDir,
        OSM_ALLOW_PRIVATE_UPSTREAMS: "true",
        PROXY_PORT: String(port),
        PROXY_METRICS_PORT: String(metricsPort),
      },
      {
        cpu: gatewayCpu === undefined ? undefined : index % 2,
        // Node 20 refuses --cpu-prof in NODE_OPTIONS, so it goes on the command line instead.
        nodeArgs: [
          ...proxyNodeArgs,
          ...(options.profileDir && index === 0
            ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`]
            : []),
        ],
      },
    );
    cleanup.add(child.name, () => child.stop(stopGraceMs));
    return {
      child,
      url: `http://127.0.0.1:${port}`,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    };
  };
  const proxies = [];
  for (let i = 0; i < Math.max(1, options.proxies ?? 1); i++) proxies.push(await startProxy(i));
  const proxy = proxies[0]!.child;

  const floor = spawnTsx(
    "floor",
    root,
    "tooling/bench/src/floor.ts",
    { ...baseEnv, FLOOR_PORT: String(floorPort), FLOOR_UPSTREAM: fakeUrl },
    { cpu: gatewayCpu, quietStdout: true },
  );
  cleanup.add("floor", () => floor.stop(stopGraceMs));

  let portkey: Child | null = null;
  let portkeySkipped: string | null = options.portkey ? null : "not requested";
  if (options.portkey) {
    const entry = await portkeyEntry(root);
    if (entry.ok) {
      portkey = spawnTsx(
        "portkey",
        root,
        entry.path,
        { ...baseEnv, NODE_ENV: "production" },
        {
          cpu: gatewayCpu,
          quietStdout: true,
          nodeArgs: [],
          args: [`--port=${portkeyPort}`, "--headless"],
        },
      );
      const started = portkey;
      cleanup.add("portkey", () => started.stop(stopGraceMs));
    } else {
      portkeySkipped = entry.reason;
      process.stderr.write(`bench: Portkey skipped: ${entry.reason}\n`);
    }
  }

  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  const floorUrl = `http://127.0.0.1:${floorPort}`;
  const portkeyUrl = portkey ? `http://127.0.0.1:${portkeyPort}` : null;
  const workerMetricsUrl = `http://127.0.0.1:${workerPort}/metrics`;
  await Promise.all([
    ...proxies.map((p) => waitHealthy(p.child, `${p.url}/healthz`, 30_000)),
    waitHealthy(worker, `http://127.0.0.1:${workerPort}/healthz`, 30_000),
    floor.firstLine,
    portkey && portkeyUrl ? waitHealthy(portkey, `${portkeyUrl}/`, 30_000) : null,
  ]);

  // The default answer (16 tokens) with nothing slow in it: the bench measures the gateway.
  const scripted = await fetch(`${fakeUrl}/_fake/script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", behaviour: { latencyMs: 0, outputTokens: 16 } }),
  });
  if (!scripted.ok) throw new Error(`fake provider refused the script: ${scripted.status}`);

  const master = apiClient(api.url, { bearer: testMasterKey });
  const project = await master.projects.create.mutate({ name: "bench" });
  await master.providers.create.mutate({
    projectId: project.id,
    id: "fake-openai",
    kind: "openai",
    baseUrl: `${fakeUrl}/v1`,
    apiKey: "sk-bench-upstream",
  });
  await master.models.importDefaults.mutate({ projectId: project.id });
  // Every feature on: a policy, a monthly budget and both rate limits, none of them reached.
  const full = await master.keys.create.mutate({
    projectId: project.id,
    label: "bench",
    spendLimitUsd: "1000000",
    budgetPeriod: "monthly",
    policy: {
      models: { allow: ["gpt-4o-mini"] },
      maxTokensPerRequest: 4096,
      rateLimit: { requestsPerMinute: 100_000_000, tokensPerMinute: 1_000_000_000 },
    },
  });
  const plain = await master.keys.create.mutate({ projectId: project.id, label: "bench-plain" });

  return {
    sql: handle.sql,
    redisUrl: redis.url,
    fakeUrl,
    proxyUrl,
    floorUrl,
    portkeyUrl,
    portkeySkipped,
    pinned,
    proxyEntry,
    workerMetricsUrl,
    proxyMetricsUrl: `http://127.0.0.1:${proxyMetricsPort}/metrics`,
    /** Every proxy process (the first is `proxy`). */
    proxies,
    projectId: project.id,
    secret: full.secret,
    keyId: full.key.id,
    plainSecret: plain.secret,
    fake,
    proxy,
    /** The worker process running now (replaced by `restartWorker`). */
    get worker() {
      return worker;
    },
    floor,
    portkey,
    redisCpuSeconds: () => (redisPid ? treeCpuSeconds([redisPid]) : null),
    /** The postmaster and its backends. */
    postgresCpuSeconds: () => (postmaster > 0 ? treeCpuSeconds([postmaster]) : null),
    /** Stops the proxy now (a CPU profile is written only when it exits cleanly). */
    stopProxy: () => proxy.stop(stopGraceMs),
    /** Stops the worker now, for its CPU profile likewise. */
    stopWorker: () => worker.stop(stopGraceMs),
    /** Starts a fresh worker after `stopWorker` and waits until it is healthy. */
    async restartWorker() {
      if (worker.running()) throw new Error("restartWorker: the worker is still running");
      worker = spawnWorker();
      await waitHealthy(worker, `http://127.0.0.1:${workerPort}/healthz`, 30_000);
    },
  };
}
