import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { enqueueUsageBatch } from "@osm/jobs/queues";
import { type UsageEvent, usageEventSchema } from "@osm/jobs/usage-event";
import { adoptInboxScript, inboxKeys, inboxRegistry, trimInboxScript } from "@osm/jobs/usage-inbox";
import type { RedisClient } from "@osm/redis/connect";
import type { Queue } from "bullmq";
import { Cluster } from "ioredis";
import type { Logger } from "pino";
import { ZodError } from "zod";
import type { SpillFile } from "./spill-file.ts";

const maxBatch = 500;
const replayEveryMs = 5_000;
const suspendAfterFailureMs = 1_000;
const moveRetryMs = 1_000;
// A dead proxy's inbox is adopted at most heartbeatTtlMs + sweepEveryMs after its last beat.
const heartbeatEveryMs = 1_000;
const heartbeatTtlMs = 3_000;
const sweepEveryMs = 1_000;

type Waiting = { line: string; event: UsageEvent; done: () => void };

/** Refused without asking Redis (down, or suspended after a failure): no new failure. */
class RedisUnavailable extends Error {
  constructor() {
    super("redis not available");
  }
}

type InboxScripts = {
  osmTrimInbox(key: string, count: number, first: string, last: string): Promise<number>;
  osmAdoptInbox(...args: string[]): Promise<number>;
};

export type UsageEmitterOptions = {
  /** The queue's own connection (it waits out a reconnect; the request path never does). */
  redis: RedisClient;
  queue: Queue;
  spill: SpillFile;
  log: Logger;
  prefix: string;
  enqueueTimeoutMs: number;
  /** False while the queue's Redis connection is down: spill at once instead of waiting. */
  redisReady: () => boolean;
  /**
   * How long the inbox collects events before they are moved into one job (OSM_USAGE_GROUP_WINDOW_MS).
   * Off the request path, as the events are durable already: only the ledger's freshness waits.
   */
  groupWindowMs: number;
  /** Counts each Redis round trip made on behalf of requests (the bench reads it). */
  onRoundTrip?: () => void;
};

/**
 * Usage events, durable before their request completes, batched into jobs off the request path.
 *
 * A request's event is appended to this process's usage inbox in Redis — by its settlement
 * script where it has one (see `inbox`), otherwise by `emit`, which group-commits: events that
 * arrive while one append is in flight share the next. The request ends only once the append is
 * acknowledged, or once the event is fsynced to the local spill file when Redis cannot take it
 * in time. Every `groupWindowMs` the inbox is moved into BullMQ jobs of up to 500 events, so the
 * worker gets one job, one transaction and one statement per table for many requests, also at
 * one connection where no two requests ever overlap.
 */
export class UsageEmitter {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
  private readonly keys: { inbox: string; alive: string };
  private readonly registry: string;
  private readonly redis: RedisClient & InboxScripts;
  private waiting: Waiting[] = [];
  private writing = false;
  /** After a failed append, events go straight to the spill file until then (ms). */
  private redisSuspendedUntil = 0;
  private moveTimer: NodeJS.Timeout | null = null;
  private moving: Promise<void> | null = null;
  private moveAgain = false;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Events handed to the queue (moved out of the inbox). */
  sent = 0;
  spilled = 0;

  /**
   * Whether a settlement script may append the event itself. On a cluster the key's counters
   * and this inbox are in different slots, so the event is appended by `emit`, sent alongside
   * the settlement instead.
   */
  readonly inboxReachableFromScripts: boolean;

  constructor(private readonly o: UsageEmitterOptions) {
    this.inboxReachableFromScripts = !(o.redis instanceof Cluster);
    this.keys = inboxKeys(o.prefix, this.id);
    this.registry = inboxRegistry(o.prefix);
    const redis = o.redis as RedisClient & Partial<InboxScripts>;
    if (!redis.osmTrimInbox) {
      o.redis.defineCommand("osmTrimInbox", { numberOfKeys: 1, lua: trimInboxScript });
      o.redis.defineCommand("osmAdoptInbox", { numberOfKeys: 4, lua: adoptInboxScript });
    }
    this.redis = o.redis as RedisClient & InboxScripts;
    const every = (ms: number, run: () => Promise<unknown>) => {
      const timer = setInterval(() => void run().catch(() => {}), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(replayEveryMs, () => this.replaySpilled());
    every(heartbeatEveryMs, () => this.beat());
    every(sweepEveryMs, () => this.adoptDeadInboxes());
  }

  /** The inbox a settlement script appends this request's event to, with the event's JSON. */
  inbox(event: UsageEvent): { inbox: string; event: string } {
    return { inbox: this.keys.inbox, event: JSON.stringify(event) };
  }

  /** The event is in the inbox already (appended with its settlement): move it with the next batch. */
  recorded(): void {
    this.scheduleMove();
  }

  /** Registers this inbox and adopts what crashed proxies left behind. */
  async start(): Promise<void> {
    await this.beat().catch(() => {});
    await this.adoptDeadInboxes().catch(() => {});
  }

  emit(event: UsageEvent): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push({ line: JSON.stringify(event), event, done: resolve });
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
        try {
          await this.append(batch.map((w) => w.line));
          this.scheduleMove();
        } catch (err) {
          // Only a real failure suspends: one refused because of the suspension must not
          // extend it, or a steady load would keep Redis suspended, and spilling, for good.
          if (!(err instanceof RedisUnavailable))
            this.redisSuspendedUntil = Date.now() + suspendAfterFailureMs;
          this.o.log.warn(
            { err: String(err), events: batch.length },
            "usage spilled to disk: redis unavailable",
          );
          await this.o.spill.append(batch.map((w) => w.event));
          this.spilled += batch.length;
        }
        for (const w of batch) w.done();
      }
    } finally {
      this.writing = false;
    }
  }

  /** A Redis that hangs would otherwise cost every request the whole timeout. */
  private withTimeout<T>(work: () => Promise<T>, what: string): Promise<T> {
    if (!this.o.redisReady() || Date.now() < this.redisSuspendedUntil) {
      return Promise.reject(new RedisUnavailable());
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out`)), this.o.enqueueTimeoutMs);
    });
    return Promise.race([work(), timeout]).finally(() => clearTimeout(timer));
  }

  private append(lines: string[]): Promise<number> {
    this.o.onRoundTrip?.();
    // A timed-out append may still land later: the ledger takes each request id once.
    return this.withTimeout(() => this.redis.rpush(this.keys.inbox, ...lines), "usage append");
  }

  private enqueue(events: UsageEvent[]): Promise<void> {
    return this.withTimeout(
      () =>
        enqueueUsageBatch(this.o.queue, { events }, `u-${events[0]!.requestId}-${events.length}`),
      "enqueue",
    );
  }

  private scheduleMove(delayMs = this.o.groupWindowMs): void {
    if (this.moving) {
      this.moveAgain = true;
      return;
    }
    if (this.moveTimer || this.closed) return;
    this.moveTimer = setTimeout(() => {
      this.moveTimer = null;
      void this.move();
    }, delayMs);
    // The events are durable in the inbox already: a pending move never holds the process open.
    this.moveTimer.unref();
  }

  /** Moves the inbox into jobs until it is empty; on failure it stays and is tried again. */
  private move(): Promise<void> {
    this.moving ??= (async () => {
      let failed = false;
      try {
        for (;;) {
          this.moveAgain = false;
          const lines = await this.redis.lrange(this.keys.inbox, 0, maxBatch - 1);
          if (lines.length === 0) break;
          const events = await this.enqueueParsed(lines);
          await this.redis.osmTrimInbox(this.keys.inbox, lines.length, lines[0]!, lines.at(-1)!);
          this.sent += events.length;
          // Events that came in during this move wait for the next window (so that a job
          // carries a window's worth, not the few that arrived meanwhile), except at close.
          if (lines.length < maxBatch && !(this.closed && this.moveAgain)) break;
        }
      } catch (err) {
        failed = true;
        this.o.log.warn({ err: String(err) }, "usage inbox not moved to the queue yet");
      } finally {
        this.moving = null;
      }
      if (failed) this.scheduleMove(moveRetryMs);
      else if (this.moveAgain) this.scheduleMove();
    })();
    return this.moving;
  }

  /**
   * Enqueues the entries as one job (validated once, by enqueueUsageBatch). A malformed entry is
   * a gateway bug: only then are they checked one by one, and the bad ones logged and dropped
   * rather than retried forever.
   */
  private async enqueueParsed(lines: string[]): Promise<UsageEvent[]> {
    const events = lines.map((line) => {
      try {
        return JSON.parse(line) as UsageEvent;
      } catch {
        return null;
      }
    });
    const whole = events.filter((e): e is UsageEvent => e !== null);
    if (whole.length === lines.length) {
      try {
        await this.enqueue(whole);
        return whole;
      } catch (err) {
        if (!(err instanceof ZodError)) throw err;
      }
    }
    const valid: UsageEvent[] = [];
    lines.forEach((line, i) => {
      const parsed = usageEventSchema.safeParse(events[i]);
      if (parsed.success) valid.push(parsed.data);
      else
        this.o.log.error({ entry: line.slice(0, 200) }, "usage inbox entry refused by its schema");
    });
    if (valid.length > 0) await this.enqueue(valid);
    return valid;
  }

  private async beat(): Promise<void> {
    if (this.closed) return;
    await this.redis
      .multi()
      .set(this.keys.alive, "1", "PX", heartbeatTtlMs)
      .sadd(this.registry, this.id)
      .exec();
  }

  /** Inboxes whose owner stopped beating are appended to this one, then moved like its own. */
  async adoptDeadInboxes(): Promise<number> {
    if (this.closed) return 0;
    let adopted = 0;
    for (const id of await this.redis.smembers(this.registry)) {
      if (id === this.id) continue;
      const dead = inboxKeys(this.o.prefix, id);
      const n = await this.redis.osmAdoptInbox(
        dead.inbox,
        dead.alive,
        this.keys.inbox,
        this.registry,
        id,
      );
      if (n > 0) adopted += n;
    }
    if (adopted > 0) {
      this.o.log.info({ events: adopted }, "adopted usage left by a stopped proxy");
      this.scheduleMove(0);
    }
    return adopted;
  }

  /** Spilled events (also a crashed process's) go back to the queue once Redis answers. */
  async replaySpilled(): Promise<number> {
    try {
      const n = await this.o.spill.replay((events) => this.enqueue(events));
      if (n > 0) this.o.log.info({ events: n }, "replayed spilled usage");
      return n;
    } catch (err) {
      this.o.log.debug({ err: String(err) }, "spilled usage not replayed yet");
      return 0;
    }
  }

  /** Waits for pending appends, moves the inbox, and unregisters it once it is empty. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    while (this.waiting.length > 0 || this.writing) await new Promise((r) => setTimeout(r, 5));
    if (this.moveTimer) clearTimeout(this.moveTimer);
    this.moveTimer = null;
    this.closed = true;
    await this.moving;
    this.moving = null;
    await this.move();
    try {
      if ((await this.redis.llen(this.keys.inbox)) === 0)
        await this.redis.multi().del(this.keys.alive).srem(this.registry, this.id).exec();
      // Otherwise the heartbeat simply expires and a live proxy adopts what is left.
    } catch {
      // Redis away at shutdown: the registry entry stays and the inbox is adopted later.
    }
  }
}
