import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type GatewayStack, proxyProcessEnv, startGatewayStack } from "@osm/testing/gateway";
import { startOtlpReceiver } from "@osm/testing/otlp-receiver";
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
let api: ChildProcess | null = null;

async function stop(child: ChildProcess | null) {
  if (!child || child.exitCode !== null) return null;
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  return exited;
}

/**
 * Runs the built proxy under plain node from another directory, with a loader hook that writes
 * down every module it resolves; serves one chat completion, then stops it with SIGTERM.
 */
async function runProxyBundle(extraEnv: Record<string, string>) {
  const t = await stack.tenant();
  const port = await freePort();
  const metricsPort = await freePort();
  const modulesFile = join(dataDir, `modules-${port}.txt`);
  let stderr = "";
  proxy = spawn(
    process.execPath,
    [
      "--import",
      join(root, "tooling/testing/module-log.mjs"),
      join(root, "apps/proxy/dist/main.js"),
    ],
    {
      // Run from elsewhere: nothing may depend on the working directory being the repo.
      cwd: dataDir,
      env: {
        PATH: process.env["PATH"] ?? "",
        ...proxyProcessEnv(stack.services, { port, metricsPort, dataDir }),
        NODE_ENV: "production",
        LOG_LEVEL: "warn",
        OSM_MODULE_LOG: modulesFile,
        ...extraEnv,
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  proxy.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  expect(await waitReady(proxy, `http://127.0.0.1:${metricsPort}/readyz`), stderr).toBe(true);
  const answer = await new OpenAI({
    baseURL: `http://127.0.0.1:${port}/v1`,
    apiKey: t.secret,
    maxRetries: 0,
  }).chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Hello!" }],
  });
  expect(await stop(proxy), stderr).toBe(0);
  return { answer, modules: readFileSync(modulesFile, "utf8").split("\n").filter(Boolean) };
}

/** Polls until `url` answers 200 or the process exits. */
async function waitReady(child: ChildProcess, url: string): Promise<boolean> {
  for (let i = 0; i < 400 && child.exitCode === null; i++) {
    const ready = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

beforeAll(async () => {
  stack = await startGatewayStack();
  dataDir = mkdtempSync(join(tmpdir(), "osm-bundle-"));
});
afterAll(async () => {
  await stop(proxy);
  await stop(api);
  await stack.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("production bundles", () => {
  it("the proxy bundle runs under plain node, answers a chat completion, and loads no OpenTelemetry", async () => {
    expect(buildApp("proxy")).toMatch(/@osm\/proxy: dist\/main\.js \(\d+ KiB\)/);
    const { answer, modules } = await runProxyBundle({});
    expect(answer.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(answer.usage?.completion_tokens).toBe(16);
    // The hook saw the bundle itself, and nothing of the tracing SDK behind the flag.
    expect(modules).toContain(pathToFileURL(join(root, "apps/proxy/dist/main.js")).href);
    expect(modules.filter((url) => url.includes("/@opentelemetry/"))).toEqual([]);
  });

  it("the proxy bundle with OTEL_EXPORTER_OTLP_ENDPOINT exports its spans, the last batch on SIGTERM", async () => {
    buildApp("proxy");
    const receiver = await startOtlpReceiver();
    try {
      const { modules } = await runProxyBundle({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
      expect(modules.some((url) => url.includes("/@opentelemetry/sdk-trace-base/"))).toBe(true);
      const spans = receiver.spans.filter((s) => s.service === "osm-proxy");
      expect(spans.map((s) => s.name).sort()).toEqual(["chat gpt-4o-mini", "chat gpt-4o-mini"]);
    } finally {
      await receiver.close();
    }
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

  it("the dashboard build and the API bundle: start:prod serves the dashboard at / with no setting", async () => {
    const dashboard = spawnSync("pnpm", ["run", "build"], {
      cwd: join(root, "apps/dashboard"),
      encoding: "utf8",
    });
    expect(dashboard.status, dashboard.stderr).toBe(0);
    buildApp("api", "src/main.ts", "src/migrate.ts");
    const port = await freePort();
    const metricsPort = await freePort();
    let stderr = "";
    api = spawn(process.execPath, [join(root, "apps/api/dist/main.js")], {
      cwd: dataDir,
      env: {
        PATH: process.env["PATH"] ?? "",
        ...proxyProcessEnv(stack.services, { port: 0, metricsPort: 0, dataDir }),
        API_PORT: String(port),
        API_METRICS_PORT: String(metricsPort),
        NODE_ENV: "production",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    api.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    expect(await waitReady(api, `http://127.0.0.1:${metricsPort}/readyz`), stderr).toBe(true);

    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<div id="root"></div>');
    const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script, html).toBeDefined();
    const asset = await fetch(`http://127.0.0.1:${port}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    // A client-side route reloaded in the browser gets the same page.
    const deep = await fetch(`http://127.0.0.1:${port}/keys`);
    expect(await deep.text()).toBe(html);

    expect(await stop(api)).toBe(0);
  });
});
