import { configFromEnv } from "./config.ts";
import { startProxy } from "./server.ts";

const proxy = await startProxy(configFromEnv(process.env));

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    proxy.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
