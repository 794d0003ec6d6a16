import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FakeProvider, startFakeProvider } from "@osm/fake-provider";
import { redisEnvOf } from "@osm/redis/target";
import { apiClient, startTestApi, testMasterKey, testSecret } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./paths.ts";
import { freePort } from "./ports.ts";

// `pnpm start` as an operator runs it, against the test PostgreSQL and Redis: each app is
// killed with SIGKILL under light load, comes back on its own while the others keep serving,
// and every request the client saw succeed has its ledger row once the worker has caught up.

// What "answers again within seconds" means here (restart backoff 0.5 s plus tsx's start on a
// busy 2-core machine); the assertion allows five times as much.
const recoveryTargetMs = 10_000;

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let fake: FakeProvider;
let dataDir = "";
let secret = "";
let supervisor: ChildProcess | null = null;
let output = "";
const ports = { api: 0, proxy: 0, worker: 0, proxyMetrics: 0, apiMetrics: 0 };

/** The pid of the process listening on a TCP port, from /proc (Linux). */
function listenerPid(port: number): number | null {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (!local || fields[3] !== "0A") continue;
      if (Number.parseInt(local.split(":")[1]!, 16) === port) inodes.add(fields[9]!);
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode && inodes.has(inode)) return Number(entry);
      } catch {
        // the descriptor closed while we looked
      }
    }
  }
  return null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const sdk = () =>
  new OpenAI({
    baseURL: `http://127.0.0.1:${ports.proxy}/v1`,
    apiKey: secret,
    maxRetries: 0,
    timeout: 10_000,
  });

async function chatOnce(): Promise<string | null> {
  try {
    const { response } = await sdk()
      .chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "hi" }],
      })
      .withResponse();
    return response.headers.get("x-request-id");
  } catch {
    return null;
  }
}

const answers = (url: string) =>
  fetch(url).then(
    (r) => r.ok,
    () => false,
  );

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  fake = await startFakeProvider();
  const master = apiClient(api.url, { bearer: testMasterKey });
  const project = await master.projects.create.mutate({ name: "supervised" });
  await master.providers.create.mutate({
    projectId: project.id,
    id: "fake-openai",
    kind: "openai",
    baseUrl: fake.openaiBaseUrl,
    apiKey: "sk-upstream-secret-123",
  });
  await master.models.importDefaults.mutate({ projectId: project.id });
  secret = (await master.keys.create.mutate({ projectId: project.id, label: "load" })).secret;

  dataDir = mkdtempSync(join(tmpdir(), "osm-supervise-"));
  for (const name of Object.keys(ports) as Array<keyof typeof ports>)
    ports[name] = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: services.databaseUrl,
    ...redisEnvOf(services.redis),
    OSM_REDIS_PREFIX: services.redisPrefix,
    OSM_SECRET: testSecret,
    OSM_DATA_DIR: dataDir,
    OSM_ALLOW_PRIVATE_UPSTREAMS: "true",
    API_PORT: String(ports.api),
    PROXY_PORT: String(ports.proxy),
    WORKER_METRICS_PORT: String(ports.worker),
    PROXY_METRICS_PORT: String(ports.proxyMetrics),
    API_METRICS_PORT: String(ports.apiMetrics),
    // A killed worker's batch comes back after about a second instead of BullMQ's 30 s.
    WORKER_STALLED_INTERVAL_MS: "1000",
    WORKER_LOCK_DURATION_MS: "2000",
    LOG_LEVEL: "warn",
  };
  supervisor = spawn(join(repoRoot, "node_modules/.bin/tsx"), ["tooling/services/src/start.ts"], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  supervisor.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  supervisor.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const deadline = Date.now() + 120_000;
  while (!output.includes("osm: ready\n")) {
    if (supervisor.exitCode !== null) throw new Error(`start.ts exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`no "osm: ready" within 120 s:\n${output}`);
    await sleep(100);
  }
}, 180_000);

afterAll(async () => {
  if (supervisor && supervisor.exitCode === null) {
    supervisor.kill("SIGTERM");
    await new Promise((resolve) => supervisor!.once("exit", resolve));
  }
  await fake?.close();
  await api?.close();
  await services?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("pnpm start supervises the apps", () => {
  it("restarts each app after kill -9 under load, keeps the others serving, and loses no usage", async () => {
    const succeeded: string[] = [];
    let failed = 0;
    let load = true;
    const client = async () => {
      while (load) {
        const id = await chatOnce();
        if (id) succeeded.push(id);
        else failed++;
        await sleep(20);
      }
    };
    const clients = [client(), client(), client()];

    const probes = {
      proxy: async () => (await chatOnce()) !== null,
      api: () => answers(`http://127.0.0.1:${ports.api}/readyz`),
      worker: () => answers(`http://127.0.0.1:${ports.worker}/healthz`),
    };
    const appPort = { proxy: ports.proxy, api: ports.api, worker: ports.worker };
    const recovery: Record<string, number> = {};
    try {
      while (succeeded.length < 20) await sleep(50);
      for (const app of ["proxy", "api", "worker"] as const) {
        const pids = {
          proxy: listenerPid(ports.proxy),
          api: listenerPid(ports.api),
          worker: listenerPid(ports.worker),
        };
        expect(Object.values(pids).every((pid) => pid !== null)).toBe(true);
        const killedAt = Date.now();
        process.kill(pids[app]!, "SIGKILL");
        const deadline = killedAt + recoveryTargetMs * 5;
        let back = false;
        while (!back && Date.now() < deadline) {
          const pid = listenerPid(appPort[app]);
          back = pid !== null && pid !== pids[app] && (await probes[app]());
          if (!back) await sleep(50);
        }
        recovery[app] = Date.now() - killedAt;
        expect(back, `${app} answering again within ${recoveryTargetMs * 5} ms`).toBe(true);
        // The others were never restarted: the same processes serve on.
        for (const other of ["proxy", "api", "worker"] as const) {
          if (other !== app) expect(listenerPid(appPort[other])).toBe(pids[other]);
        }
        expect(output).toContain(`osm: ${app} exited unexpectedly`);
        const before = succeeded.length;
        while (succeeded.length < before + 10) await sleep(50);
      }
    } finally {
      load = false;
      await Promise.all(clients);
    }
    console.info(
      `recovery after kill -9: proxy ${recovery.proxy} ms, api ${recovery.api} ms, worker ${recovery.worker} ms; ${succeeded.length} requests succeeded, ${failed} failed`,
    );
    for (const app of ["proxy", "api", "worker"]) {
      const lines = output
        .split("\n")
        .filter((l) => l.startsWith(`osm: ${app} exited unexpectedly`));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/\(code 137\); restarting in 0\.5 s \(restart 1 in a row\)$/);
    }

    // Every success the client saw lands once, the killed worker's batch included.
    const missing = async () => {
      const rows = await services.sql`
        select request_id from usage_ledger where request_id in ${services.sql(succeeded)}`;
      const found = new Set(rows.map((r) => r.request_id as string));
      return succeeded.filter((id) => !found.has(id));
    };
    let lost = await missing();
    for (let i = 0; i < 600 && lost.length > 0; i++) {
      await sleep(100);
      lost = await missing();
    }
    expect(lost).toEqual([]);
  });

  it("stops every app and exits 0 on SIGTERM", async () => {
    const pids = [ports.proxy, ports.api, ports.worker].map(listenerPid);
    expect(pids.every((pid) => pid !== null)).toBe(true);
    supervisor!.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) =>
      supervisor!.once("exit", (c) => resolve(c)),
    );
    expect(code).toBe(0);
    expect([ports.proxy, ports.api, ports.worker].map(listenerPid)).toEqual([null, null, null]);
    expect(output).not.toContain("did not stop within");
  });
});
