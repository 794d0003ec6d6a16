import { bootstrapInstance } from "./bootstrap.ts";
import { parseApiEnv } from "./env.ts";
import { startApi } from "./server.ts";

const env = parseApiEnv(process.env);
if (!env.ok) {
  console.error(env.line);
  process.exit(1);
}
const api = await startApi(env.config);
const ready = await bootstrapInstance(api.services);
if (!ready.ok) {
  console.error(ready.line);
  await api.close();
  process.exit(1);
}
api.services.log.info({ port: api.port }, "api listening");

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    api.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
