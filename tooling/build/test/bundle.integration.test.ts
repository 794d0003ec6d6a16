import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type GatewayStack, proxyProcessEnv, startGatewayStack } from "@osm/testing/gateway";
import { freePort } from "@osm/testing/services";
import OpenAI from "openai";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

// The production path: `pnpm build` bundles each Node app into plain JavaScript that `node`
// runs with no tsx and no TypeScript source, the internal packages inlined.

const root = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const bundle = join(root, "tooling/build/bundle.mjs");

function buildApp(app: string, ...entries: string[]) {
  const result = spawnSync(process.execPath, [bundle, ...entries], {
    cwd: join(root, "apps", app),
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`${app} build failed:\n${result.stderr}`);
  return result.stdout;
}

let stack: GatewayStack;
let dataDir = "";
let proxy: ChildProcess | null = null;

beforeAll(async () => {
  stack = await startGatewayStack();
  dataDir = mkdtempSync(join(tmpdir(), "osm-bundle-"));
});
afterAll(async () => {
  if (proxy && proxy.exitCode === null) {
    proxy.kill("SIGTERM");
    await new Promise((r) => proxy!.once("exit", r));
  }
  await stack.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("production bundles", () => {
  it("the proxy bundle runs under plain node and answers a chat completion", async () => {
    expect(buildApp("proxy")).toMatch(/@osm\/proxy: dist\/main\.js \(\d+ KiB\)/);
    const t = await stack.tenant();
    const port = await freePort();
    const metricsPort = await freePort();
    let stderr = "";
    proxy = spawn(process.execPath, [join(root, "apps/proxy/dist/main.js")], {
      // Run from elsewhere: nothing may depend on the working directory being the repo.
      cwd: dataDir,
      env: {
        PATH: process.env["PATH"] ?? "",
        ...proxyProcessEnv(stack.services, { port, metricsPort, dataDir }),
        NODE_ENV: "production",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    proxy.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    let ready = false;
    for (let i = 0; i < 400 && !ready && proxy.exitCode === null; i++) {
      ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 50));
    }
    expect(ready, stderr).toBe(true);

    const client = new OpenAI({
      baseURL: `http://127.0.0.1:${port}/v1`,
      apiKey: t.secret,
      maxRetries: 0,
    });
    const answer = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Hello!" }],
    });
    expect(answer.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(answer.usage?.completion_tokens).toBe(16);

    proxy.kill("SIGTERM");
    expect(await new Promise((r) => proxy!.once("exit", (code) => r(code)))).toBe(0);
  });

  it("the API's migrate bundle migrates an empty database once, and again is a no-op", async () => {
    buildApp("api", "src/main.ts", "src/migrate.ts");
    const admin = postgres(inject("pgAdminUrl"), { onnotice: () => {}, max: 1 });
    const name = `bundle_migrate_${Date.now()}`;
    await admin.unsafe(`create database ${name}`);
    const url = inject("pgAdminUrl").replace(/\/postgres$/, `/${name}`);
    try {
      const migrate = () =>
        spawnSync(process.execPath, [join(root, "apps/api/dist/migrate.js")], {
          cwd: dataDir,
          env: { PATH: process.env["PATH"] ?? "", DATABASE_URL: url },
          encoding: "utf8",
        });
      for (let run = 0; run < 2; run++) {
        const result = migrate();
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(result.stdout.trim()).toBe("osm migrate: the database is up to date");
      }
      const db = postgres(url, { onnotice: () => {}, max: 1 });
      try {
        const [tables] = await db`
          select count(*)::int as n from information_schema.tables where table_name in ('api_keys', 'usage_ledger')`;
        expect(tables!.n).toBe(2);
      } finally {
        await db.end();
      }
      const bad = spawnSync(process.execPath, [join(root, "apps/api/dist/migrate.js")], {
        env: { PATH: process.env["PATH"] ?? "", DATABASE_URL: "not a url" },
        encoding: "utf8",
      });
      expect(bad.status).toBe(1);
      expect(bad.stderr.trim()).toMatch(/^osm migrate: invalid DATABASE_URL: /);
    } finally {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    }
  });
});
