import { parseProxyEnv } from "./env.ts";
import { startProxy } from "./server.ts";

const env = parseProxyEnv(process.env);
if (!env.ok) {
  console.error(env.line);
  process.exit(1);
}
const proxy = await startProxy(env.config);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    proxy.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
