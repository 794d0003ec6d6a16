import { parseProxyEnv } from "./env.ts";
import { startProxy } from "./server.ts";

const env = parseProxyEnv(process.env);
if (!env.ok) {
  console.error(env.line);
  process.exit(1);
}
const proxy = await startProxy(env.config);

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
