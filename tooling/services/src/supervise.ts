import { setTimeout as sleep } from "node:timers/promises";
import type { AppExit, AppProcess } from "./app-process.ts";
import { type BackoffPolicy, nextConsecutive, restartDelayMs } from "./restart-backoff.ts";

export type SupervisedApp = {
  name: string;
  /** Stops restarting, then stops the running process (SIGTERM, SIGKILL after graceMs). */
  stop(graceMs: number): Promise<void>;
};

function describeExit(exit: AppExit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}

/**
 * Keeps one app running: an exit that nobody asked for is reported in one line and followed
 * by a restart after a backoff, while the other apps go on serving.
 */
export function superviseApp(options: {
  name: string;
  spawn: () => AppProcess;
  policy: BackoffPolicy;
  write: (line: string) => void;
}): SupervisedApp {
  const { name, policy, write } = options;
  const stopping = new AbortController();
  let current = options.spawn();
  let consecutive = 0;

  const loop = async () => {
    while (!stopping.signal.aborted) {
      const startedAt = Date.now();
      const exit = await current.exited;
      if (stopping.signal.aborted) return;
      // tsx killed alone leaves its node child holding the port: take the whole group down.
      await current.stop(0);
      consecutive = nextConsecutive(policy, consecutive, Date.now() - startedAt);
      const delay = restartDelayMs(policy, consecutive);
      write(
        `osm: ${name} exited unexpectedly (${describeExit(exit)}); restarting in ${delay / 1000} s (restart ${consecutive} in a row)\n`,
      );
      try {
        await sleep(delay, undefined, { signal: stopping.signal });
      } catch {
        return;
      }
      current = options.spawn();
    }
  };
  const looping = loop();

  return {
    name,
    async stop(graceMs) {
      stopping.abort();
      await current.stop(graceMs);
      await looping;
    },
  };
}
