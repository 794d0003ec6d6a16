import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

/** The Portkey OSS gateway measured beside osm: a fixed version, never in our lockfile. */
export const portkeyVersion = "1.15.2";
// On Node 20 Portkey's streaming needs these two exact versions (newer ones use Node 22 APIs).
const overrides = { hono: "4.9.7", "@hono/node-server": "1.13.5" };
const installTimeoutMs = 180_000;

export type PortkeyEntry = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Portkey's server script, installed with npm on first use under the data directory (outside
 * the workspace, so pnpm's lockfile and CI never see it). In CI it is never installed.
 */
export async function portkeyEntry(root: string): Promise<PortkeyEntry> {
  const dir = join(process.env.OSM_DATA_DIR ?? join(root, ".data"), "bench", "portkey");
  const script = join(dir, "node_modules/@portkey-ai/gateway/build/start-server.js");
  const relativeScript = relative(root, script);
  const path = relativeScript.startsWith("..") ? script : relativeScript;
  if (existsSync(script)) return { ok: true, path };
  if (process.env.CI) return { ok: false, reason: "CI never installs Portkey" };
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ private: true, dependencies: { "@portkey-ai/gateway": portkeyVersion }, overrides }, null, 2)}\n`,
  );
  process.stderr.write(`bench: installing @portkey-ai/gateway@${portkeyVersion} into ${dir}\n`);
  const code = await new Promise<number | null>((resolve) => {
    const npm = spawn("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts"], {
      cwd: dir,
      stdio: ["ignore", "ignore", "inherit"],
    });
    const timer = setTimeout(() => npm.kill("SIGKILL"), installTimeoutMs);
    npm.once("error", () => resolve(-1));
    npm.once("exit", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  if (code === 0 && existsSync(script)) return { ok: true, path };
  return { ok: false, reason: `npm could not install @portkey-ai/gateway (exit ${code})` };
}
