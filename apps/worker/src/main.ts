import { parseWorkerEnv } from "./env.ts";
import { startWorker, WorkerStartError } from "./worker.ts";

const env = parseWorkerEnv(process.env);
if (!env.ok) {
  console.error(env.line);
  process.exit(1);
}
const worker = await startWorker(env.config).catch((err: unknown) => {
  if (!(err instanceof WorkerStartError)) throw err;
  console.error(err.line);
  process.exit(1);
});
worker.log.info(
  { metricsPort: worker.metricsPort, concurrency: env.config.concurrency },
  "worker started",
);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    // A second signal means the operator will not wait: the unfinished batch is redelivered
    // after the lock expires, and ingest lands nothing twice.
    if (stopping) process.exit(1);
    stopping = true;
    worker.log.info({ signal }, "worker closing: finishing active jobs");
    worker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        worker.log.error({ err }, "worker close failed");
        process.exit(1);
      },
    );
  });
}
