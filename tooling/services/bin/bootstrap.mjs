#!/usr/bin/env node
// Entry point of `pnpm start`, `pnpm test` and `pnpm bench`. Plain Node on purpose: it runs
// before dependencies exist, installs them, makes sure PostgreSQL and Redis server binaries
// are present (apt on Debian when root), then hands over to the TypeScript entry points.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const [command, ...args] = process.argv.slice(2);

/** @param {string} line @returns {never} */
function fail(line) {
  console.error(`osm: ${line}`);
  process.exit(1);
}

function ensureDependencies() {
  const marker = join(root, "node_modules/.modules.yaml");
  const lock = join(root, "pnpm-lock.yaml");
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  const pnpm = process.env.npm_execpath;
  const [bin, pre] =
    pnpm?.endsWith(".js") || pnpm?.endsWith(".cjs")
      ? [process.execPath, [pnpm]]
      : [pnpm ?? "pnpm", []];
  const r = spawnSync(bin, [...pre, "install", "--frozen-lockfile"], {
    cwd: root,
    stdio: "inherit",
  });
  if (r.status !== 0) fail("dependency install failed (pnpm install --frozen-lockfile)");
}

function hasPostgres() {
  if (process.env.OSM_PG_BIN && existsSync(join(process.env.OSM_PG_BIN, "postgres"))) return true;
  try {
    return readdirSync("/usr/lib/postgresql").some((v) =>
      existsSync(`/usr/lib/postgresql/${v}/bin/postgres`),
    );
  } catch {
    return spawnSync("sh", ["-c", "command -v postgres"]).status === 0;
  }
}
const hasRedis = () => spawnSync("sh", ["-c", "command -v redis-server"]).status === 0;

function ensureServers() {
  const missing = [];
  if (!process.env.DATABASE_URL && !hasPostgres()) missing.push("postgresql");
  if (!process.env.REDIS_URL && !hasRedis()) missing.push("redis-server");
  if (missing.length === 0) return;
  const canApt = process.getuid?.() === 0 && existsSync("/usr/bin/apt-get");
  if (!canApt)
    fail(
      `missing ${missing.join(" and ")}: install them (e.g. sudo apt-get install -y ${missing.join(" ")}) or set DATABASE_URL / REDIS_URL`,
    );
  console.error(`osm: installing ${missing.join(", ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  const r = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
    stdio: "inherit",
    env,
  });
  if (r.status !== 0) fail(`apt-get install ${missing.join(" ")} failed`);
}

/** @param {string} bin @param {string[]} argv */
function run(bin, argv) {
  const child = spawn(join(root, "node_modules/.bin", bin), argv, { cwd: root, stdio: "inherit" });
  for (const sig of /** @type {const} */ (["SIGINT", "SIGTERM"]))
    process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

ensureDependencies();
ensureServers();
switch (command) {
  case "start":
    run("tsx", ["tooling/services/src/start.ts", ...args]);
    break;
  case "test": {
    // CI asks for a JSON report this way: pnpm claims `--reporter` for itself.
    const report = process.env.OSM_TEST_JSON;
    const reporters = report
      ? ["--reporter=default", "--reporter=json", `--outputFile.json=${report}`]
      : [];
    run("vitest", ["run", ...reporters, ...args]);
    break;
  }
  case "bench":
    run("tsx", ["tooling/bench/src/main.ts", ...args]);
    break;
  default:
    fail(`unknown command ${command}`);
}
