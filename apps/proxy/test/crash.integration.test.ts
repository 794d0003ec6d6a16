import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RedisTarget } from "@osm/redis/target";
import { type GatewayStack, proxyProcessEnv, startGatewayStack } from "@osm/testing/gateway";
import { freePort, startRedis, startWorker } from "@osm/testing/services";
import { testWorkerConfig } from "@osm/testing/worker";
import { afterAll, beforeAll, expect, it } from "vitest";

// Design under test: a request completes only after its usage event is durable (in the
// BullMQ queue, or fsynced to the spill file), so killing the proxy loses no completed request.

let stack: GatewayStack;
let dataDir: string;

beforeAll(async () => {
  stack = await startGatewayStack();
  dataDir = mkdtempSync(join(tmpdir(), "osm-proxy-crash-"));
});
afterAll(async () => {
  await stack.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function spawnProxy(
  redis: RedisTarget = stack.services.redis,
): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  // One process, node with tsx's loader: a SIGKILL of the tsx wrapper would orphan the proxy
  // (tsx runs the script in a node child) and leave it serving.
  const child = spawn(process.execPath, ["--import", "tsx", "apps/proxy/src/main.ts"], {
    env: {
      ...process.env,
      ...proxyProcessEnv({ ...stack.services, redis }, { port, metricsPort: 0, dataDir }),
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { child, url };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("proxy did not start");
}

it("keeps a ledger row for every 200 the client saw when the proxy is killed with SIGKILL", async () => {
  const t = await stack.tenant();
  const { child, url } = await spawnProxy();
  const completed: string[] = [];
  let stop = false;
  const client = async () => {
    while (!stop) {
      try {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${t.secret}`, "content-type": "application/json" },
          body: JSON.stringify({
            model: "gpt-4o-mini",
            messages: [{ role: "user", content: "hi" }],
          }),
        });
        await res.text();
        if (res.status === 200) completed.push(res.headers.get("x-request-id")!);
      } catch {
        // the kill cuts requests in flight: those never completed for the client
      }
    }
  };
  const clients = Array.from({ length: 16 }, client);
  while (completed.length < 300) await new Promise((r) => setTimeout(r, 10));
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  stop = true;
  await Promise.all(clients);
  expect(completed.length).toBeGreaterThanOrEqual(300);

  const missing = async () => {
    const rows = await stack.services.sql`
      select request_id from usage_ledger where request_id in ${stack.services.sql(completed)}`;
    const found = new Set(rows.map((r) => r.request_id as string));
    return completed.filter((id) => !found.has(id));
  };
  let lost = await missing();
  for (let i = 0; i < 200 && lost.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    lost = await missing();
  }
  console.info(
    `kill -9 under load: ${completed.length} completed requests, ${lost.length} without a ledger row`,
  );
  expect(lost).toEqual([]);
});

it("spills usage to disk while Redis is down, survives SIGKILL, and replays it from a new process", async () => {
  const t = await stack.tenant();
  const redisPort = await freePort();
  let redis = await startRedis({ port: redisPort });
  const first = await spawnProxy({ mode: "single", url: redis.url });
  const chat = (url: string) =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    });
  expect((await chat(first.url)).status).toBe(200);
  await redis.stop();
  // A key with no limit keeps working from cache; its usage goes to the spill file.
  const during: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await chat(first.url);
    expect(res.status).toBe(200);
    during.push(res.headers.get("x-request-id")!);
  }
  first.child.kill("SIGKILL");
  await new Promise((r) => first.child.once("exit", r));
  expect(readdirSync(join(dataDir, "usage-spill")).length).toBeGreaterThan(0);

  // Redis comes back empty; a new proxy replays the spill into the queue, a worker lands it.
  redis = await startRedis({ port: redisPort });
  const worker = await startWorker(
    testWorkerConfig(stack.services, {
      redis: { mode: "single", url: redis.url },
      concurrency: 1,
      stalledIntervalMs: 1000,
      lockDurationMs: 2000,
    }),
  );
  const second = await spawnProxy({ mode: "single", url: redis.url });
  try {
    let found = 0;
    for (let i = 0; i < 200 && found < during.length; i++) {
      const rows = await stack.services.sql`
        select count(*)::int as n from usage_ledger where request_id in ${stack.services.sql(during)}`;
      found = rows[0]!.n as number;
      if (found < during.length) await new Promise((r) => setTimeout(r, 50));
    }
    expect(found).toBe(during.length);
    expect(
      readdirSync(join(dataDir, "usage-spill")).filter(
        (n) => !n.startsWith(`${second.child.pid}-`),
      ),
    ).toEqual([]);
  } finally {
    second.child.kill("SIGTERM");
    await new Promise((r) => second.child.once("exit", r));
    await worker.close();
    await redis.stop();
  }
});
