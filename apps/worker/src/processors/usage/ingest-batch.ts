import type { Db } from "@osm/db/client";
import { type IngestResult, ingestUsageEvents } from "@osm/db/queries/ingest";
import { jobNames } from "@osm/jobs/queues";
import { type UsageEvent, usageBatchSchema } from "@osm/jobs/usage-event";
import { type Job, UnrecoverableError } from "bullmq";
import type { Logger } from "pino";
import type { z } from "zod";
import type { WorkerMetrics } from "../../metrics.ts";

// Enough to locate the fault without turning failedReason into a copy of the payload.
const MAX_ISSUES_REPORTED = 3;

function describeIssues(error: z.ZodError): string {
  const shown = error.issues
    .slice(0, MAX_ISSUES_REPORTED)
    .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
  const more = error.issues.length - shown.length;
  return shown.join("; ") + (more > 0 ? `; and ${more} more` : "");
}

/**
 * Drizzle's query errors carry the statement and every bound parameter, i.e. the whole batch:
 * the retried error keeps only the database's own message and SQLSTATE, which is what an
 * operator needs in failedReason and the logs.
 */
function ingestFailure(err: unknown): Error {
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  const carriesParams = typeof cause === "object" && cause !== null && "params" in cause;
  const message = carriesParams
    ? "query failed"
    : cause instanceof Error
      ? cause.message
      : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  const suffix = typeof code === "string" ? ` (${code})` : "";
  return new Error(`usage batch ingest failed: ${message.slice(0, 500)}${suffix}`);
}

export type IngestBatchDeps = {
  db: Db;
  metrics: WorkerMetrics;
  log: Logger;
  /** Runs after the batch committed (limit flips); its failure retries the idempotent batch. */
  afterIngest?: (events: UsageEvent[]) => Promise<unknown>;
};

/**
 * Lands one batch of usage events in the ledger and the totals. A payload that fails validation
 * will fail the same way on every attempt: UnrecoverableError moves it straight to the failed
 * set, where it is kept for inspection. Any other error (database down, a deadlock) is thrown
 * again without the batch in it, and BullMQ retries with the backoff of usageJobOptions; ingest
 * is idempotent, so a retry after a commit whose acknowledgement was lost lands nothing twice.
 */
export function createIngestBatchProcessor({ db, metrics, log, afterIngest }: IngestBatchDeps) {
  return async (job: Job<unknown, IngestResult>): Promise<IngestResult> => {
    if (job.name !== jobNames.usageBatch)
      throw new UnrecoverableError(`unknown job name on the usage queue: ${job.name}`);
    const parsed = usageBatchSchema.safeParse(job.data);
    if (!parsed.success)
      throw new UnrecoverableError(
        `usage batch failed validation: ${describeIssues(parsed.error)}`,
      );
    const endTimer = metrics.batchSeconds.startTimer();
    let result: IngestResult;
    try {
      result = await ingestUsageEvents(db, parsed.data.events);
    } catch (err) {
      throw ingestFailure(err);
    } finally {
      endTimer();
    }
    if (afterIngest) await afterIngest(parsed.data.events);
    metrics.events.inc({ result: "inserted" }, result.inserted);
    metrics.events.inc({ result: "duplicate" }, result.duplicates);
    log.debug(
      {
        jobId: job.id,
        attempt: job.attemptsMade + 1,
        events: parsed.data.events.length,
        ...result,
      },
      "usage batch ingested",
    );
    return result;
  };
}
