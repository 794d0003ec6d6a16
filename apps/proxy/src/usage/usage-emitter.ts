import { enqueueUsageBatch } from "@osm/jobs/queues";
import type { UsageEvent } from "@osm/jobs/usage-event";
import type { Queue } from "bullmq";
import type { Logger } from "pino";

// Events leave the request path at once and are sent in batches: one Redis write per
// `flushMs` or `maxBatch` events keeps usage off the latency and throughput budget.
const flushMs = 10;
const maxBatch = 500;
// Bounded while Redis is away; what does not fit is counted and logged, never blocks requests.
const maxBuffered = 200_000;

export class UsageEmitter {
  private buffer: UsageEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  dropped = 0;
  sent = 0;

  constructor(
    private readonly queue: Queue,
    private readonly log: Logger,
  ) {}

  emit(event: UsageEvent): void {
    if (this.buffer.length >= maxBuffered) {
      this.dropped++;
      return;
    }
    this.buffer.push(event);
    if (this.buffer.length >= maxBatch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), flushMs);
  }

  get pending(): number {
    return this.buffer.length;
  }

  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.flushing) return this.flushing;
    this.flushing = this.sendAll().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async sendAll(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, maxBatch);
      try {
        // The first request id names the job: a retried add of the same batch is a no-op.
        await enqueueUsageBatch(
          this.queue,
          { events: batch },
          `u-${batch[0]!.requestId}-${batch.length}`,
        );
        this.buffer.splice(0, batch.length);
        this.sent += batch.length;
      } catch (err) {
        this.log.warn({ err, pending: this.buffer.length }, "usage batch not enqueued; retrying");
        this.timer ??= setTimeout(() => void this.flush(), 500);
        return;
      }
    }
  }
}
