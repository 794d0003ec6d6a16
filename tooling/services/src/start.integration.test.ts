import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyPassword } from "@osm/keys/passwords";
import { hashSecret } from "@osm/keys/secrets";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresDirOf, repoRoot } from "./paths.ts";
import { freePort } from "./ports.ts";
import { isPostgresRunning, startPostgres } from "./postgres.ts";

// Exercises the embedded mode end to end: start.ts starts its own PostgreSQL and Redis in a
// temporary OSM_DATA_DIR, not the ones the integration global setup provides.

const tsx = join(repoRoot, "node_modules/.bin/tsx");
const appExists = (name: string) => existsSync(join(repoRoot, `apps/${name}/src/main.ts`));

type Run = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

let dataDir = "";
let env: NodeJS.ProcessEnv = {};
let apiPort = 0;
const runs: Run[] = [];

function runTsx(script: string, args: string[]): Run {
  const child = spawn(tsx, [script, ...args], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  return { child, output: () => output, exited };
}

async function startOsm(): Promise<Run> {
  const run = runTsx("tooling/services/src/start.ts", []);
  runs.push(run);
  const deadline = Date.now() + 60_000;
  while (!run.output().includes("osm: ready\n")) {
    if (run.child.exitCode !== null)
      throw new Error(`start.ts exited ${run.child.exitCode}:\n${run.output()}`);
    if (Date.now() > deadline) throw new Error(`no "osm: ready" within 60 s:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return run;
}

async function stopOsm(run: Run): Promise<number | null> {
  run.child.kill("SIGTERM");
  return run.exited;
}

async function cli(...args: string[]) {
  const run = runTsx("tooling/services/src/cli.ts", args);
  return { code: await run.exited, output: run.output() };
}

const embeddedPort = () =>
  (JSON.parse(readFileSync(join(dataDir, "state.json"), "utf8")) as { pgPort: number }).pgPort;
const embeddedUrl = () => `postgres://osm@127.0.0.1:${embeddedPort()}/osm`;

async function passwordHashOf(url: string, email: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<
      { password_hash: string }[]
    >`select password_hash from users where email = ${email}`;
    return row!.password_hash;
  } finally {
    await sql.end();
  }
}

const newPasswordIn = (output: string) => /\(shown once\): (\S+)/.exec(output)?.[1] ?? "";

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "osm-start-"));
  apiPort = await freePort();
  env = { ...process.env, OSM_DATA_DIR: dataDir, API_PORT: String(apiPort) };
  env["PROXY_PORT"] = String(await freePort());
  // Metrics ports are not needed here: any free one, never the fixed defaults.
  env["PROXY_METRICS_PORT"] = "0";
  env["API_METRICS_PORT"] = "0";
  env["WORKER_METRICS_PORT"] = String(await freePort());
  for (const name of ["DATABASE_URL", "REDIS_URL", "OSM_SECRET"]) delete env[name];
});

afterAll(async () => {
  for (const run of runs) if (run.child.exitCode === null) await stopOsm(run);
  const pgDir = postgresDirOf(dataDir);
  // Only a failed test leaves the cluster running; pg_ctl stop needs the directory, not the port.
  if (isPostgresRunning(pgDir)) {
    startPostgres({ dataDir: pgDir, port: embeddedPort(), reuseRunning: true }).stop();
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe("pnpm start in embedded mode", () => {
  let demoKey = "";
  let demoPassword = "";

  it("seeds the demo on the first start, prints its login once and stops cleanly", async () => {
    const run = await startOsm();
    const output = run.output();
    expect(output).toMatch(/login\s+demo@osm\.local/);
    demoPassword = /password\s+(\S+)/.exec(output)?.[1] ?? "";
    demoKey = /demo key\s+(osm_\S+)/.exec(output)?.[1] ?? "";
    expect(demoPassword).toHaveLength(16);
    expect(demoKey).toMatch(/^osm_/);
    expect(output).toContain(`Authorization: Bearer ${demoKey}`);

    if (appExists("api")) {
      const health = await fetch(`http://127.0.0.1:${apiPort}/healthz`);
      expect(health.status).toBe(200);
      const me = await fetch(`http://127.0.0.1:${apiPort}/trpc/auth.me`);
      expect(me.status).toBe(200);
      expect(await me.json()).toHaveProperty("result");
    }
    expect(await stopOsm(run)).toBe(0);
  });

  it("reuses the data on a restart without printing the login again", async () => {
    const run = await startOsm();
    expect(run.output()).not.toContain("demo@osm.local");
    expect(run.output()).not.toContain(demoKey);

    const sql = postgres(embeddedUrl(), { max: 1, onnotice: () => {} });
    try {
      const keys = await sql`select label from api_keys where secret_hash = ${hashSecret(demoKey)}`;
      expect(keys).toEqual([{ label: "demo" }]);
    } finally {
      await sql.end();
    }
    expect(
      await verifyPassword(demoPassword, await passwordHashOf(embeddedUrl(), "demo@osm.local")),
    ).toBe(true);

    // The CLI attaches to the running cluster rather than restarting it under the supervisor.
    const reset = await cli("reset-password", "demo@osm.local");
    expect(reset.code).toBe(0);
    const password = newPasswordIn(reset.output);
    expect(
      await verifyPassword(password, await passwordHashOf(embeddedUrl(), "demo@osm.local")),
    ).toBe(true);
    expect(run.child.exitCode).toBeNull();
    if (appExists("api"))
      expect((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status).toBe(200);

    const unknown = await cli("reset-password", "nobody@osm.local");
    expect(unknown.code).toBe(1);
    expect(unknown.output.trim()).toBe("osm: no user with email nobody@osm.local");

    expect(await stopOsm(run)).toBe(0);
  });

  it("reset-password starts the embedded cluster for itself when osm is not running", async () => {
    const pgDir = postgresDirOf(dataDir);
    expect(isPostgresRunning(pgDir)).toBe(false);
    const reset = await cli("reset-password", "demo@osm.local");
    expect(reset.code).toBe(0);
    const password = newPasswordIn(reset.output);
    expect(password).toHaveLength(16);
    expect(isPostgresRunning(pgDir)).toBe(false);

    const pg = startPostgres({ dataDir: pgDir, port: embeddedPort() });
    try {
      const url = pg.urlFor("osm");
      expect(await verifyPassword(password, await passwordHashOf(url, "demo@osm.local"))).toBe(
        true,
      );
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      try {
        const audits =
          await sql`select actor_type from audit_log where action = 'user.password_reset'`;
        expect(audits).toEqual([{ actor_type: "system" }, { actor_type: "system" }]);
      } finally {
        await sql.end();
      }
    } finally {
      pg.stop();
    }

    expect((await cli("no-such-command")).code).toBe(2);
  });
});
