import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FatalError } from "./fatal-error.ts";

function isSupervisor(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  // Where /proc exists, a pid recycled after a reboot by some other program does not count.
  const cmdline = `/proc/${pid}/cmdline`;
  return !existsSync(cmdline) || readFileSync(cmdline, "utf8").includes("start.ts");
}

/**
 * One supervisor per data directory: a second one would restart the first one's PostgreSQL and
 * Redis under it. Returns the release function.
 */
export function acquireInstanceLock(dataDir: string): () => void {
  const file = join(dataDir, "osm.pid");
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isSupervisor(pid)) {
      throw new FatalError(`pnpm start is already running on ${dataDir} (pid ${pid})`);
    }
    unlinkSync(file);
  }
  try {
    writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
  } catch {
    throw new FatalError(`another pnpm start is starting on ${dataDir}`);
  }
  return () => {
    if (existsSync(file) && readFileSync(file, "utf8").trim() === String(process.pid))
      unlinkSync(file);
  };
}
