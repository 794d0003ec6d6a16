import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GatewayStack, proxyProcessEnv, startGatewayStack } from "@osm/testing/gateway";
import { freePort } from "@osm/testing/services";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// SIGTERM is how systemd, a load balancer's rollout and `pnpm start` stop a proxy: it must stop
// accepting, let what is in flight finish (up to OSM_SHUTDOWN_GRACE_MS), flush usage, exit 0.

let stack: GatewayStack;
let dataDir: string;

beforeAll(async () => {
  stack = await startGatewayStack();
  dataDir = mkdtempSync(join(tmpdir(), "osm-proxy-shutdown-"));
});
afterAll(async () => {
  await stack.close();
  rmSync(dataDir, { recursive: true, force: true });
});

type Spawned = {
  child: ChildProcess;
  url: string;
  metricsUrl: string;
  exited: Promise<number | null>;
  stderr: () => string;
};

function spawnProxy(env: Record<string, string>, port: number, metricsPort: number): Spawned {
  const child = spawn("node_modules/.bin/tsx", ["apps/proxy/src/main.ts"], {
    env: {
      ...process.env,
      ...proxyProcessEnv(stack.services, { port, metricsPort, dataDir }),
      LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    exited,
    stderr: () => stderr,
  };
}

async function startProxyProcess(env: Record<string, string> = {}): Promise<Spawned> {
  const proxy = spawnProxy(env, await freePort(), await freePort());
  for (let i = 0; i < 400; i++) {
    const up = await fetch(`${proxy.metricsUrl}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return proxy;
    if (proxy.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`proxy did not become ready:\n${proxy.stderr()}`);
}

async function ledgerRow(requestId: string) {
  for (let i = 0; i < 400; i++) {
    const rows = await stack.services.sql`
      select status, output_tokens from usage_ledger where request_id = ${requestId}`;
    if (rows.length > 0) return rows[0]!;
    await new Promise((r) => setTimeout(r, 25));
  }
  return null;
}

const sdk = (url: string, secret: string) =>
  new OpenAI({ baseURL: `${url}/v1`, apiKey: secret, maxRetries: 0, timeout: 30_000 });

describe("proxy shutdown on SIGTERM", () => {
  it("finishes a stream in flight, lands its usage, refuses new connections and exits 0", async () => {
    const t = await stack.tenant();
    const proxy = await startProxyProcess({ OSM_SHUTDOWN_GRACE_MS: "20000" });
    // About 2 s of stream: long enough for the signal to land in the middle of it.
    stack.fake.scriptNext({ outputTokens: 20, chunkDelayMs: 100 });
    const { data: stream, response } = await sdk(proxy.url, t.secret)
      .chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "hi" }],
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    const requestId = response.headers.get("x-request-id")!;
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    let signalled = false;
    let readyWhileDraining: { status: number; body: unknown } | null = null;
    let refusedWhileDraining: unknown = null;
    for await (const chunk of stream) {
      chunks.push(chunk);
      if (!signalled && chunks.length === 2) {
        signalled = true;
        proxy.child.kill("SIGTERM");
        // The listening socket is closed at once; the metrics port says "not ready".
        for (let i = 0; i < 100 && !readyWhileDraining; i++) {
          const r = await fetch(`${proxy.metricsUrl}/readyz`);
          if (r.status === 503) readyWhileDraining = { status: r.status, body: await r.json() };
          else await new Promise((resolve) => setTimeout(resolve, 10));
        }
        refusedWhileDraining = await fetch(`${proxy.url}/healthz`, {
          headers: { connection: "close" },
        }).then(
          () => null,
          (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message,
        );
      }
    }
    expect(signalled).toBe(true);
    expect(readyWhileDraining).toEqual({
      status: 503,
      body: { status: "unavailable", postgres: "up", redis: "up", accepting: "down" },
    });
    expect(refusedWhileDraining).toBe("ECONNREFUSED");
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text.length).toBeGreaterThan(0);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(20);

    expect(await proxy.exited).toBe(0);
    expect(await ledgerRow(requestId)).toEqual({ status: 200, output_tokens: 20 });
  });

  it("cuts a request that outlives OSM_SHUTDOWN_GRACE_MS, still records it, and exits 0", async () => {
    const t = await stack.tenant();
    const proxy = await startProxyProcess({ OSM_SHUTDOWN_GRACE_MS: "300" });
    stack.fake.scriptNext({ hang: "mid-stream" });
    const { data: stream, response } = await sdk(proxy.url, t.secret)
      .chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "hi" }],
        stream: true,
      })
      .withResponse();
    const requestId = response.headers.get("x-request-id")!;
    const outcome = (async () => {
      try {
        for await (const _ of stream) if (!proxy.child.killed) proxy.child.kill("SIGTERM");
        return "ended";
      } catch {
        return "cut";
      }
    })();
    expect(await proxy.exited).toBe(0);
    expect(await outcome).toBe("cut");
    const row = await ledgerRow(requestId);
    expect(row).not.toBeNull();
  });

  it.each([
    ["OSM_SHUTDOWN_GRACE_MS", "-1"],
    ["OSM_SHUTDOWN_GRACE_MS", "soon"],
    ["PROXY_METRICS_PORT", "70000"],
  ])("refuses %s=%s with one clear line", async (name, value) => {
    const proxy = spawnProxy({ [name]: value }, await freePort(), await freePort());
    expect(await proxy.exited).toBe(1);
    expect(proxy.stderr()).toMatch(new RegExp(`^osm proxy: invalid ${name}: `));
  });
});
