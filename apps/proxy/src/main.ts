import { configFromEnv } from "./config.ts";
import { startProxy } from "./server.ts";

const proxy = await startProxy(configFromEnv(process.env));

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    // Repeats (a terminal, pnpm and tsx all relay Ctrl-C) must not cut the drain short: whoever
    // will not wait sends SIGKILL, as the supervisor does after the grace period.
    if (stopping) return;
    stopping = true;
    proxy.deps.log.info({ signal }, "proxy stopping: draining requests in flight");
    proxy.close().then(
      () => process.exit(0),
      (err: unknown) => {
        proxy.deps.log.error({ err }, "proxy close failed");
        process.exit(1);
      },
    );
  });
}
