import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { prefixLines } from "./prefix-lines.ts";

export type AppExit = { name: string; code: number | null; signal: NodeJS.Signals | null };

export type AppProcess = {
  name: string;
  /** Settles once the process is gone, whether it exited, was killed or never spawned. */
  exited: Promise<AppExit>;
  running(): boolean;
  /** SIGTERM; after graceMs, SIGKILL to its whole process group. Resolves when it is gone. */
  stop(graceMs: number): Promise<void>;
};

/**
 * Runs `tsx <entry>` in its own process group: a terminal Ctrl-C then reaches only the
 * supervisor, which stops the apps in order, and a SIGKILL also takes tsx's node child.
 */
export function spawnApp(
  name: string,
  tsxBin: string,
  entry: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): AppProcess {
  const child = spawn(tsxBin, [entry], {
    cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  prefixLines(child.stdout, process.stdout, `[${name}] `);
  prefixLines(child.stderr, process.stderr, `[${name}] `);
  let alive = true;
  const exited = new Promise<AppExit>((resolve) => {
    child.once("exit", (code, signal) => {
      alive = false;
      resolve({ name, code, signal });
    });
    child.once("error", (error) => {
      process.stderr.write(`[${name}] could not start: ${error.message}\n`);
      alive = false;
      resolve({ name, code: null, signal: null });
    });
  });

  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      // the group is already gone
    }
  };

  return {
    name,
    exited,
    running: () => alive,
    async stop(graceMs) {
      if (alive) child.kill("SIGTERM");
      // Unref'd: a timer must not hold the supervisor open after everything stopped.
      const timeout = sleep(graceMs, "timeout" as const, { ref: false });
      if ((await Promise.race([exited, timeout])) === "timeout") {
        process.stderr.write(`osm: ${name} did not stop within ${graceMs / 1000} s; killing it\n`);
      }
      // Also reaps a grandchild left behind after tsx itself exited.
      killGroup();
      await exited;
    },
  };
}
