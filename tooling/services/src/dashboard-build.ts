import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { prefixLines } from "./prefix-lines.ts";

function hasBuildScript(packageJson: string): boolean {
  try {
    const scripts: unknown = JSON.parse(readFileSync(packageJson, "utf8")).scripts;
    return typeof scripts === "object" && scripts !== null && "build" in scripts;
  } catch {
    return false;
  }
}

/**
 * The built dashboard's directory, building it first when it is missing (first start after a
 * checkout). Undefined when there is no dashboard to serve; a failed build does not stop the API.
 */
export async function ensureDashboardBuilt(
  root: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  const appDir = join(root, "apps/dashboard");
  const dist = join(appDir, "dist");
  if (existsSync(join(dist, "index.html"))) return dist;
  // Until the dashboard has an entry page there is nothing to build.
  if (!hasBuildScript(join(appDir, "package.json")) || !existsSync(join(appDir, "index.html")))
    return undefined;
  const vite = join(appDir, "node_modules/.bin/vite");
  if (!existsSync(vite)) {
    process.stderr.write(
      "osm: vite is not installed in apps/dashboard; the API runs without the dashboard\n",
    );
    return undefined;
  }
  process.stdout.write("osm: building the dashboard (first start)\n");
  const child = spawn(vite, ["build"], { cwd: appDir, stdio: ["ignore", "pipe", "pipe"], signal });
  prefixLines(child.stdout, process.stdout, "[dashboard] ");
  prefixLines(child.stderr, process.stderr, "[dashboard] ");
  const code = await new Promise<number | null>((resolve) => {
    child.once("exit", (exitCode) => resolve(exitCode));
    child.once("error", () => resolve(null));
  });
  if (signal.aborted) return undefined;
  if (code !== 0 || !existsSync(join(dist, "index.html"))) {
    process.stderr.write("osm: the dashboard build failed; the API runs without the dashboard\n");
    return undefined;
  }
  return dist;
}
