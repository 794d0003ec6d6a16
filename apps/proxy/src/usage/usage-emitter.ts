import { enqueueUsageBatch } from "@osm/jobs/queues";
import type { UsageEvent } from "@osm/jobs/usage-event";
import type { Queue } from "bullmq";
import type { Logger } from "pino";
import { ZodError } from "zod";
import type { SpillFile } from "./spill-file.ts";

const maxBatch = 500;
const replayEveryMs = 5_000;
const suspendAfterFailureMs = 1_000;

type Waiting = { event: UsageEvent; done: () => void };

/**
 * Group commit for usage events: a request completes only once its event is durable, either in
 * the BullMQ queue (Redis, AOF) or in the local spill file when Redis cannot take it in time.
 * Events that arrive while one batch is being written form the next batch, so under load many
 * requests share one Redis write and throughput is not capped by it.
 */
export class UsageEmitter {
  private waiting: Waiting[] = [];
  private writing = false;
  /** After a failed enqueue, events go straight to the spill file until then (ms). */
  private redisSuspendedUntil = 0;
  private readonly replayTimer: NodeJS.Timeout;
  sent = 0;
  spilled = 0;

  constructor(
    private readonly queue: Queue,
    private readonly spill: SpillFile,
    private readonly log: Logger,
    private readonly enqueueTimeoutMs: number,
    /** False while the queue's Redis connection is down: spill at once instead of waiting. */
    private readonly redisReady: () => boolean,
  ) {
    this.replayTimer = setInterval(() => void this.replaySpilled(), replayEveryMs);
    this.replayTimer.unref();
  }

  emit(event: UsageEvent): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push({ event, done: resolve });
      if (!this.writing) setImmediate(() => void this.drain());
    });
  }

  get pending(): number {
    return this.waiting.length;
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, maxBatch);
        const events = batch.map((w) => w.event);
        try {
          await this.enqueue(events);
          this.sent += events.length;
        } catch (err) {
          if (err instanceof ZodError) {
            // A malformed event is a gateway bug: spilling it would only fail again on replay.
            this.log.error({ issues: err.issues.slice(0, 3) }, "usage batch refused by its schema");
            for (const w of batch) w.done();
            continue;
          }
          this.redisSuspendedUntil = Date.now() + suspendAfterFailureMs;
          this.log.warn(
            { err: String(err), events: events.length },
            "usage spilled to disk: redis unavailable",
          );
          await this.spill.append(events);
          this.spilled += events.length;
        }
        for (const w of batch) w.done();
      }
    } finally {
      this.writing = false;
    }
  }

  private enqueue(events: UsageEvent[]): Promise<void> {
    // A Redis that hangs would otherwise cost every request the whole timeout.
    if (!this.redisReady() || Date.now() < this.redisSuspendedUntil) {
      return Promise.reject(new Error("redis not available"));
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("enqueue timed out")), this.enqueueTimeoutMs);
    });
    // A timed-out add may still land later: the ledger takes each request id once.
    return Promise.race([
      enqueueUsageBatch(this.queue, { events }, `u-${events[0]!.requestId}-${events.length}`),
      timeout,
    ]).finally(() => clearTimeout(timer));
  }

  /** Spilled events (also a crashed process's) go back to the queue once Redis answers. */
  async replaySpilled(): Promise<number> {
    try {
      const n = await this.spill.replay((events) => this.enqueue(events));
      if (n > 0) this.log.info({ events: n }, "replayed spilled usage");
      return n;
    } catch (err) {
      this.log.debug({ err: String(err) }, "spilled usage not replayed yet");
      return 0;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.replayTimer);
    while (this.waiting.length > 0 || this.writing) await new Promise((r) => setTimeout(r, 5));
  }
}
