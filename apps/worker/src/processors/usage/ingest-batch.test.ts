import type { Db } from "@osm/db/client";
import type { IngestResult } from "@osm/db/queries/ingest";
import { jobNames } from "@osm/jobs/queues";
import { usageEvent } from "@osm/testing/usage-events";
import { type Job, UnrecoverableError } from "bullmq";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createWorkerMetrics } from "../../metrics.ts";
import { createIngestBatchProcessor } from "./ingest-batch.ts";

const log = pino({ level: "silent" });

/** A database whose every statement fails this way (the batch is one statement). */
function processorWith(failure: Error) {
  const metrics = createWorkerMetrics({ queues: [], log });
  const db = { execute: () => Promise.reject(failure) } as unknown as Db;
  return createIngestBatchProcessor({ db, metrics, log });
}

const job = (data: unknown, name: string = jobNames.usageBatch) =>
  ({ id: "1", name, data, attemptsMade: 0 }) as unknown as Job<unknown, IngestResult>;

const unreached = new Error("the database must not be reached");

describe("ingest-batch processor", () => {
  it("fails a malformed batch for good, naming the field but not quoting the payload", async () => {
    const secretish = "9".repeat(25);
    const run = processorWith(unreached);
    const error = await run(
      job({ events: [{ ...usageEvent("u", 1), costNanos: secretish }] }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toMatch(
      /^usage batch failed validation: events\.0\.costNanos: /,
    );
    expect((error as Error).message).not.toContain(secretish);
  });

  it("fails a job of another name for good", async () => {
    const run = processorWith(unreached);
    await expect(run(job({ events: [] }, "usage.other"))).rejects.toBeInstanceOf(
      UnrecoverableError,
    );
  });

  it("rethrows a database failure as retryable, without the statement's parameters", async () => {
    const cause = Object.assign(new Error("deadlock detected"), { code: "40P01" });
    const queryError = Object.assign(
      new Error("Failed query: insert into usage_ledger ...\nparams: req_u_000001,prj_worker"),
      { query: "insert into usage_ledger ...", params: ["req_u_000001", "prj_worker"], cause },
    );
    const run = processorWith(queryError);
    const error = await run(job({ events: [usageEvent("u", 1)] })).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toBe("usage batch ingest failed: deadlock detected (40P01)");
  });
});
