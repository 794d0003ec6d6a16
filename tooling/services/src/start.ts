// `pnpm start`: one supervisor that runs the embedded PostgreSQL and Redis (when DATABASE_URL /
// REDIS_URL are unset), migrates, seeds the demo and runs every app until Ctrl-C.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createDb } from "@osm/db/client";
import { runMigrations } from "@osm/db/migrate";
import { verifySecretCheck } from "@osm/db/secret-check";
import { startFakeProvider } from "@osm/fake-provider";
import { createCryptoBox } from "@osm/keys/crypto-box";
import { spawnApp } from "./app-process.ts";
import { firstStartBanner, type Urls, urlLines } from "./banner.ts";
import { ensureDashboardBuilt } from "./dashboard-build.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { describeError, FatalError } from "./fatal-error.ts";
import { acquireInstanceLock } from "./instance-lock.ts";
import { dataDirFrom, redisDirOf, repoRoot } from "./paths.ts";
import { startRedis } from "./redis.ts";
import { defaultBackoff } from "./restart-backoff.ts";
import { resolveSecret } from "./secret.ts";
import { type DemoSeed, seedDemo } from "./seed-demo.ts";
import { ensurePorts, type PortName } from "./state.ts";
import { type SupervisedApp, superviseApp } from "./supervise.ts";
import { waitForPort } from "./wait-for-port.ts";

const apps = [
  { name: "api", portVar: "API_PORT", defaultPort: 3000 },
  { name: "proxy", portVar: "PROXY_PORT", defaultPort: 8787 },
  { name: "worker", portVar: "WORKER_METRICS_PORT", defaultPort: 9464 },
] as const;

// Apps get their own drain time (OSM_SHUTDOWN_GRACE_MS, validated by the proxy) plus this much
// to flush and disconnect, after SIGTERM, before their process group is killed.
const stopMarginMs = 5_000;
const defaultShutdownGraceMs = 10_000;

function portFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new FatalError(`invalid ${name}: must be a port number from 1 to 65535`);
  }
  return port;
}

// Resources register their teardown as they come up; it runs in reverse once, on any exit path.
const cleanups: Array<() => unknown> = [];
const stopping = new AbortController();
const stopRequested = new Promise<void>((resolve) =>
  stopping.signal.addEventListener("abort", () => resolve()),
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    // Ctrl-C may arrive several times (terminal, pnpm, tsx all relay it): stop once.
    if (!stopping.signal.aborted) process.stdout.write("osm: stopping\n");
    stopping.abort();
  });
}

async function main(env: NodeJS.ProcessEnv): Promise<number> {
  const dataDir = dataDirFrom(env);
  mkdirSync(dataDir, { recursive: true });
  const embeddedPostgres = !env["DATABASE_URL"];
  // A Redis Cluster brought along (OSM_REDIS_CLUSTER) reaches the apps through the env as is.
  const embeddedRedis = !env["REDIS_URL"] && !env["OSM_REDIS_CLUSTER"];
  const embedded = embeddedPostgres || embeddedRedis;
  // The demo lives in the embedded database: a database brought along is never seeded.
  const demo = embeddedPostgres;
  const appPorts = apps.map((app) => ({
    ...app,
    port: portFrom(env, app.portVar, app.defaultPort),
  }));
  const portOf = (name: string) => appPorts.find((app) => app.name === name)!.port;
  const urls: Urls = {
    dashboard: `http://localhost:${portOf("api")}`,
    gateway: `http://localhost:${portOf("proxy")}/v1`,
  };

  if (embedded) cleanups.push(acquireInstanceLock(dataDir));
  const secret = resolveSecret(env, dataDir, embedded);
  const wanted: PortName[] = [
    ...(embeddedPostgres ? (["pgPort"] as const) : []),
    ...(embeddedRedis ? (["redisPort"] as const) : []),
    ...(demo ? (["fakeProviderPort"] as const) : []),
  ];
  const ports = await ensurePorts(dataDir, wanted);

  let databaseUrl = env["DATABASE_URL"] ?? "";
  if (embeddedPostgres) {
    const { pg, url } = await startEmbeddedPostgres(dataDir, ports.pgPort);
    cleanups.push(() => pg.stop());
    databaseUrl = url;
  }
  if (stopping.signal.aborted) return 0;

  let redisUrl = env["REDIS_URL"] ?? "";
  if (embeddedRedis) {
    const dir = redisDirOf(dataDir);
    mkdirSync(dir, { recursive: true });
    const redis = await startRedis({ port: ports.redisPort, dataDir: dir, ownProcessGroup: true });
    cleanups.push(() => redis.stop());
    redisUrl = redis.url;
  }
  if (stopping.signal.aborted) return 0;

  await runMigrations(databaseUrl);
  const box = createCryptoBox(secret);
  let seed: DemoSeed | null = null;
  const { db, close } = createDb({ url: databaseUrl, max: 1, applicationName: "osm-start" });
  try {
    if (!(await verifySecretCheck(db, box))) {
      throw new FatalError(
        "OSM_SECRET does not match this database (it was set up with another secret)",
      );
    }
    if (demo) {
      const fake = await startFakeUpstream(ports.fakeProviderPort);
      cleanups.push(() => fake.close());
      seed = await seedDemo(db, box, fake);
    }
  } finally {
    await close();
  }

  let bannerShown = false;
  const showBanner = () => {
    if (!seed || bannerShown) return;
    process.stdout.write(firstStartBanner(urls, seed));
    bannerShown = true;
  };
  // If the apps never come up, the one-time login is still printed on the way out.
  cleanups.push(showBanner);
  if (stopping.signal.aborted) return 0;

  const dashboardDir = await ensureDashboardBuilt(repoRoot, stopping.signal);
  if (stopping.signal.aborted) return 0;

  const childEnv: NodeJS.ProcessEnv = {
    ...env,
    DATABASE_URL: databaseUrl,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    OSM_SECRET: secret,
    OSM_DATA_DIR: dataDir,
    NODE_ENV: env["NODE_ENV"] || "development",
    ...Object.fromEntries(appPorts.map((app) => [app.portVar, String(app.port)])),
    // The demo's upstream is the fake provider on 127.0.0.1.
    ...(demo ? { OSM_ALLOW_PRIVATE_UPSTREAMS: env["OSM_ALLOW_PRIVATE_UPSTREAMS"] || "true" } : {}),
    ...(dashboardDir ? { OSM_DASHBOARD_DIR: dashboardDir } : {}),
  };
  const tsx = join(repoRoot, "node_modules/.bin/tsx");
  const running: Array<SupervisedApp & { port: number }> = [];
  for (const app of appPorts) {
    const entry = `apps/${app.name}/src/main.ts`;
    if (!existsSync(join(repoRoot, entry))) continue;
    const supervised = superviseApp({
      name: app.name,
      spawn: () => spawnApp(app.name, tsx, entry, repoRoot, childEnv),
      policy: defaultBackoff,
      write: (line) => process.stderr.write(line),
    });
    running.push({ ...supervised, port: app.port });
  }
  const stopGraceMs =
    (Number(env["OSM_SHUTDOWN_GRACE_MS"]) || defaultShutdownGraceMs) + stopMarginMs;
  cleanups.push(() => Promise.all(running.map((app) => app.stop(stopGraceMs))));

  void Promise.all(running.map((app) => waitForPort(app.port, stopping.signal))).then((up) => {
    if (stopping.signal.aborted || !up.every(Boolean)) return;
    if (seed) showBanner();
    else process.stdout.write(urlLines(urls));
    process.stdout.write("osm: ready\n");
  });

  // A crashed app is restarted by its supervisor: only Ctrl-C or SIGTERM ends the run.
  await stopRequested;
  return 0;
}

// The demo's providers point at this port, so it is the recorded one or nothing.
async function startFakeUpstream(port: number) {
  try {
    return await startFakeProvider({ port });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    throw new FatalError(`port ${port} of the demo's fake provider (in state.json) is in use`);
  }
}

async function runCleanups(): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      process.stderr.write(`osm: while stopping: ${describeError(error)}\n`);
    }
  }
}

const code = await main(process.env).catch((error: unknown) => {
  process.stderr.write(`osm: ${describeError(error)}\n`);
  return 1;
});
await runCleanups();
process.exit(code);
