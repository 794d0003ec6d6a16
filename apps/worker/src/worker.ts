import { BudgetCounters } from "@osm/budget/counters";
import { createDb } from "@osm/db/client";
import { verifySecretCheck } from "@osm/db/secret-check";
import { createCryptoBox } from "@osm/keys/crypto-box";
import { type MetricsServer, serveMetrics } from "@osm/observability/metrics-server";
import { createRedis } from "@osm/redis/connect";
import type { RedisTarget } from "@osm/redis/target";
import { type Logger, pino } from "pino";
import { createPublisher } from "./invalidations.ts";
import { createWorkerMetrics } from "./metrics.ts";
import { createAlertDeliveryProcessor } from "./processors/alerts/deliver.ts";
import { checkAlertThresholds } from "./processors/alerts/thresholds.ts";
import { createLedgerRetention } from "./processors/housekeeping/retention.ts";
import { runHousekeeping } from "./processors/housekeeping/run-housekeeping.ts";
import { createIngestBatchProcessor } from "./processors/usage/ingest-batch.ts";
import { flipLimits } from "./processors/usage/limit-flips.ts";
import { createAlertsQueue, createAlertsWorker } from "./queues/alerts.ts";
import { startHousekeeping } from "./queues/housekeeping.ts";
import { createUsageQueue, createUsageWorker } from "./queues/usage.ts";

export type WorkerConfig = {
  databaseUrl: string;
  redis: RedisTarget;
  /** The deployment's Redis prefix; BullMQ keys live under `${redisPrefix}{bull}`. */
  redisPrefix: string;
  /** 0 picks a free port (tests); the bound one is returned. */
  metricsPort: number;
  concurrency: number;
  stalledIntervalMs: number;
  lockDurationMs: number;
  logLevel: string;
  /** OSM_LOG_RETENTION_DAYS: whole UTC days of ledger kept before today (default 30). */
  retentionDays?: number;
  /** Injected clock for tests; the housekeeping scheduler passes its own now otherwise. */
  now?: () => Date;
  /**
   * OSM_SECRET: opens the webhooks' signing secrets, and must match the database's check value.
   * main.ts always passes it; a worker started without it (some tests) sends no budget alerts.
   */
  secret?: string;
  /** OSM_ALLOW_PRIVATE_UPSTREAMS: lets webhooks reach loopback and private addresses. */
  allowPrivateUpstreams?: boolean;
  /** Base delay of the webhook retries' exponential backoff (tests shorten it). */
  alertRetryDelayMs?: number;
};

/** The worker cannot run as configured; `line` is the one line main.ts prints. */
export class WorkerStartError extends Error {
  constructor(readonly line: string) {
    super(line);
  }
}

/** Bounds one webhook attempt, from connecting to the end of the response. */
const WEBHOOK_TIMEOUT_MS = 5_000;

export type RunningWorker = {
  /** One housekeeping pass at `now`, as the scheduler runs it (tests inject the clock). */
  resetDue(now: Date): ReturnType<typeof runHousekeeping>;
  metricsPort: number;
  log: Logger;
  /** Waits for the jobs in progress to finish, then closes every connection. Idempotent. */
  close(): Promise<void>;
};

/** Starts the usage processors and the metrics server in this process (main.ts, or a test). */
export async function startWorker(config: WorkerConfig): Promise<RunningWorker> {
  const log = pino({ level: config.logLevel, base: { app: "worker" } });
  const database = createDb({
    url: config.databaseUrl,
    // One connection per concurrent batch, plus spares so that a slow batch never starves
    // another and webhook deliveries (which hold none while they wait on the network) get one.
    max: config.concurrency + 2,
    applicationName: "osm-worker",
  });
  const box = config.secret === undefined ? null : createCryptoBox(config.secret);
  if (box) {
    let matches: boolean;
    try {
      matches = await verifySecretCheck(database.db, box);
    } catch (err) {
      await database.close();
      throw err;
    }
    if (!matches) {
      await database.close();
      throw new WorkerStartError(
        "osm worker: invalid OSM_SECRET: it does not match the secret this database was set up with",
      );
    }
  }
  if (!box) log.info("no OSM_SECRET given: budget alerts are not sent by this worker");
  const usageQueue = createUsageQueue(config.redis, config.redisPrefix);
  const alertsQueue = createAlertsQueue(config.redis, config.redisPrefix, {
    ...(config.alertRetryDelayMs !== undefined ? { retryDelayMs: config.alertRetryDelayMs } : {}),
  });
  const metrics = createWorkerMetrics({ queues: [usageQueue.queue, alertsQueue.queue], log });

  // Bind the port before taking jobs: a worker that cannot serve metrics should not start.
  let server: MetricsServer;
  try {
    server = await serveMetrics({ registry: metrics.registry, port: config.metricsPort, log });
  } catch (err) {
    await usageQueue.close();
    await alertsQueue.close();
    await database.close();
    throw err;
  }

  const now = config.now ?? (() => new Date());
  const publisher = createRedis(config.redis, { maxRetriesPerRequest: 3 });
  publisher.on("error", (err) => log.debug({ err: String(err) }, "publisher connection error"));
  const publish = createPublisher(publisher, config.redisPrefix);
  const housekeepingDeps = {
    db: database.db,
    publish,
    log,
    reconcile: {
      db: database.db,
      counters: new BudgetCounters(publisher, config.redisPrefix),
      log,
      repairs: metrics.repairs,
    },
    retention: createLedgerRetention({
      db: database.db,
      log,
      retentionDays: config.retentionDays ?? 30,
    }),
  };
  const housekeeping = await startHousekeeping({
    redis: config.redis,
    redisPrefix: config.redisPrefix,
    run: () => runHousekeeping(housekeepingDeps, now()),
    log,
  });

  const usage = createUsageWorker({
    redis: config.redis,
    redisPrefix: config.redisPrefix,
    concurrency: config.concurrency,
    stalledIntervalMs: config.stalledIntervalMs,
    lockDurationMs: config.lockDurationMs,
    processor: createIngestBatchProcessor({
      db: database.db,
      metrics,
      log,
      afterIngest: async (events) => {
        // Flags first: a key refused at its limit is flagged before the 100 % check reads it.
        await flipLimits({ db: database.db, publish, log, now }, events);
        if (box)
          await checkAlertThresholds(
            { db: database.db, enqueue: alertsQueue.enqueue, log, now },
            events,
          );
      },
    }),
    metrics,
    log,
  });

  const alerts = box
    ? createAlertsWorker({
        redis: config.redis,
        redisPrefix: config.redisPrefix,
        concurrency: config.concurrency,
        stalledIntervalMs: config.stalledIntervalMs,
        lockDurationMs: config.lockDurationMs,
        processor: createAlertDeliveryProcessor({
          db: database.db,
          box,
          allowPrivate: config.allowPrivateUpstreams ?? false,
          timeoutMs: WEBHOOK_TIMEOUT_MS,
          log,
          now,
        }),
        metrics,
        log,
      })
    : null;

  let closing: Promise<void> | undefined;
  return {
    metricsPort: server.port,
    log,
    resetDue: (at) => runHousekeeping(housekeepingDeps, at),
    close() {
      closing ??= (async () => {
        // The active batches finish (and commit) before the pool they use goes away.
        await usage.close();
        await alerts?.close();
        await housekeeping.close();
        publisher.disconnect();
        await server.close();
        await usageQueue.close();
        await alertsQueue.close();
        await database.close();
      })();
      return closing;
    },
  };
}
