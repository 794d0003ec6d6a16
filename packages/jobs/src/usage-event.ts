import { z } from "zod";

const nanosText = z.string().regex(/^\d{1,19}$/, "must be a non-negative integer of nano-USD");

/** One request tag (the `x-osm-tags` header): short, so logs and filters stay cheap. */
export const usageTagSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/=-]{0,63}$/, "must be 1-64 letters, digits or . _ : / = -");
export const maxUsageTags = 10;
export const usageTagsSchema = z.array(usageTagSchema).min(1).max(maxUsageTags);

/**
 * One event per authenticated request (allowed, denied or failed), unique by requestId: the
 * ledger inserts it once however often it is delivered. Money travels as integer nano-USD in
 * decimal text (JSON has no bigint). Never carries prompt or completion content.
 */
export const usageEventSchema = z.object({
  requestId: z.string().min(1).max(64),
  projectId: z.string().min(1).max(64),
  keyId: z.string().min(1).max(64),
  model: z.string().max(256).nullable(),
  provider: z.string().max(128).nullable(),
  outcome: z.enum(["allowed", "denied", "error"]),
  code: z.string().max(64).nullable(),
  status: z.number().int().min(100).max(599),
  stream: z.boolean(),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  costNanos: nanosText,
  reservedNanos: nanosText,
  latencyMs: z.number().int().nonnegative(),
  /** ISO instant the request was admitted: it settles into that instant's budget window. */
  admittedAt: z.iso.datetime(),
  /**
   * Set on a refusal that means the key hit its limit (spent ≥ limit, or not even the smallest
   * admissible request fits). Optional while older events may still be queued.
   */
  limitHit: z.boolean().optional(),
  /**
   * A shadow-mode policy rule that would have refused this request (which went ahead): its
   * denial code and message. Optional while older events may still be queued.
   */
  shadowDenial: z.object({ code: z.string().max(64), message: z.string().max(1000) }).optional(),
  /** With limitHit: the limit the refusal was decided against (a raise since then wins). */
  limitNanos: z
    .string()
    .regex(/^\d{1,19}$/)
    .optional(),
  /** The request's end user (its `safety_identifier`, else `user` field), for attribution. */
  endUser: z.string().min(1).max(256).optional(),
  /** The request's `x-osm-tags`. */
  tags: usageTagsSchema.optional(),
});
export type UsageEvent = z.infer<typeof usageEventSchema>;

export const usageBatchSchema = z.object({ events: z.array(usageEventSchema).min(1).max(1000) });
export type UsageBatch = z.infer<typeof usageBatchSchema>;
