import { bootstrapInstance } from "./bootstrap.ts";
import { configFromEnv } from "./config.ts";
import { startApi } from "./server.ts";

const config = configFromEnv(process.env);
const api = await startApi(config);
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
