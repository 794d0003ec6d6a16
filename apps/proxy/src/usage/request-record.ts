import type { UsageEvent } from "@osm/jobs/usage-event";
import { DenialCodes } from "@osm/policy/evaluate";
import type { Admission } from "../admission/admission.ts";
import type { CachedKey } from "../cache/key-cache.ts";
import type { ErrorCode, GatewayError } from "../errors.ts";

const denialCodes = new Set<string>([...DenialCodes, "rate_limit_exceeded"]);

/**
 * What the gateway learns about one authenticated request as it goes; `toEvent` turns it into
 * the single usage event that request emits, whatever way it ends.
 */
export class RequestRecord {
  model: string | null = null;
  provider: string | null = null;
  stream = false;
  inputTokens = 0;
  outputTokens = 0;
  /** The part of inputTokens the provider served from its prompt cache. */
  cachedInputTokens = 0;
  cost = 0n;
  reserved = 0n;
  status = 200;
  code: ErrorCode | null = null;
  /** The reservation this request holds, if its key has a limit or rate limits. */
  admission: Admission | null = null;
  limitHit = false;
  /** When the upstream request was sent (hrtime), for the upstream latency histogram. */
  upstreamSentAt: bigint | null = null;
  /** End-user attribution: the body's safety_identifier / user, the x-osm-tags header. */
  endUser: string | null = null;
  tags: string[] | null = null;
  /** A shadow-mode rule that would have refused this request. */
  shadowDenial: { code: string; message: string } | null = null;
  private emitted = false;

  constructor(
    readonly requestId: string,
    readonly key: CachedKey,
    readonly admittedAt: Date,
    readonly startedAt: bigint,
  ) {}

  fail(err: GatewayError): void {
    this.code = err.code;
    this.status = err.status;
    this.limitHit = err.limitHit;
  }

  /** Returns the event once; later calls return null so a request never emits twice. */
  toEvent(endedAt: bigint): UsageEvent | null {
    if (this.emitted) return null;
    this.emitted = true;
    const outcome =
      this.code === null ? "allowed" : denialCodes.has(this.code) ? "denied" : "error";
    return {
      requestId: this.requestId,
      projectId: this.key.projectId,
      keyId: this.key.id,
      model: this.model,
      provider: this.provider,
      outcome,
      code: this.code,
      status: this.status,
      stream: this.stream,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      costNanos: this.cost.toString(),
      reservedNanos: this.reserved.toString(),
      latencyMs: Number((endedAt - this.startedAt) / 1_000_000n),
      admittedAt: this.admittedAt.toISOString(),
      ...(this.endUser === null ? {} : { endUser: this.endUser }),
      ...(this.tags === null ? {} : { tags: this.tags }),
      ...(this.shadowDenial ? { shadowDenial: this.shadowDenial } : {}),
      ...(this.limitHit && this.key.spendLimit !== null
        ? { limitHit: true, limitNanos: this.key.spendLimit.toString() }
        : {}),
    };
  }
}
