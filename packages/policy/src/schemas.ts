import { z } from "zod";
import { formatUsd, MAX_PRICE_PER_1M_NANOS, MAX_SPEND_LIMIT_NANOS, parseUsd } from "./money.ts";
import { BudgetPeriods, PolicyModes, ProviderKinds, Tiers, TokenParams } from "./types.ts";

export type { BudgetPeriod, PolicyMode, ProviderKind, Tier, TokenParam } from "./types.ts";

// --- Money ---------------------------------------------------------------------------------

// Far above any bounded amount ("1000000.000000000" is 17 characters); refusing longer input
// before `BigInt` keeps a hostile megabyte of digits from costing anything.
const MAX_USD_TEXT_LENGTH = 32;

const USD_FORMAT_MESSAGE =
  'Must be a USD amount as a decimal string, like "12.50", with at most 9 decimal places';

function usdTextError(issue: { input?: unknown }): string {
  if (issue.input === undefined) return "Required";
  if (typeof issue.input === "number") {
    return 'Must be a decimal string like "12.50", not a JSON number: numbers lose precision';
  }
  return USD_FORMAT_MESSAGE;
}

type UsdBounds = { max?: bigint; allowZero: boolean; zeroMessage?: string };

// A string schema that checks the format and the bounds, with messages in dollars rather than
// the nanos the value turns into.
function usdText(bounds: UsdBounds) {
  return z.string({ error: usdTextError }).superRefine((text, ctx) => {
    const nanos = text.length <= MAX_USD_TEXT_LENGTH ? parseUsd(text) : null;
    if (nanos === null) {
      ctx.addIssue({ code: "custom", message: USD_FORMAT_MESSAGE });
    } else if (nanos === 0n && !bounds.allowZero) {
      ctx.addIssue({ code: "custom", message: bounds.zeroMessage ?? "Must be greater than 0" });
    } else if (bounds.max !== undefined && nanos > bounds.max) {
      ctx.addIssue({ code: "custom", message: `Must be at most ${formatUsd(bounds.max)} USD` });
    }
  });
}

const toNanos = (text: string): bigint => parseUsd(text) ?? 0n;

// Any non-negative amount, as nanos.
export const usdAmountSchema = usdText({ allowZero: true }).transform(toNanos);

// A $0 limit is refused: settled spend 0 ≥ 0 would mark the key as having hit its limit at
// once, which is "disabled" under a misleading name. No limit is expressed by omitting it.
export const spendLimitSchema = usdText({
  allowZero: false,
  max: MAX_SPEND_LIMIT_NANOS,
  zeroMessage:
    "Must be greater than 0: omit the spending limit for no limit, or disable the key to block it",
}).transform(toNanos);

export const pricePer1MSchema = usdText({ allowZero: true, max: MAX_PRICE_PER_1M_NANOS }).transform(
  toNanos,
);

// Price limits stay decimal strings in the stored policy (the contract's KeyPolicy shape), in
// canonical form so "0.150" and "0.15" are stored alike.
export const priceLimitSchema = usdText({ allowZero: true, max: MAX_PRICE_PER_1M_NANOS }).transform(
  (text) => formatUsd(toNanos(text)),
);

// --- Vocabularies --------------------------------------------------------------------------

export const tierSchema = z.enum(Tiers);
export const budgetPeriodSchema = z.enum(BudgetPeriods);
export const tokenParamSchema = z.enum(TokenParams);
export const policyModeSchema = z.enum(PolicyModes);
export const providerKindSchema = z.enum(ProviderKinds);

// --- Ids -----------------------------------------------------------------------------------

// Provider ids (and other project-scoped ids people type): lowercase, URL- and Redis-key-safe.
export const slugSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,63}$/,
    "Must be a slug: 1–64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
  );

// Model ids are what clients send as `model`, so they accept the names vendors use: OpenAI's
// fine-tunes carry upper case and colons ("ft:gpt-4o-mini-2024-07-18:acme::AbC12xYz"), hosted
// open models a slash ("meta-llama/Llama-3.1-8B-Instruct"), Vertex an "@" version.
const MODEL_ID = "[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}";

export const modelIdSchema = z
  .string()
  .regex(
    new RegExp(`^${MODEL_ID}$`),
    "Must be a model id: 1–128 letters, digits, '.', '_', ':', '/', '@' or '-', starting with a letter or digit",
  );

// A model id, or a prefix followed by a trailing "*" ("gpt-4o*", "claude-3-*", "*").
export const modelPatternSchema = z
  .string()
  .regex(
    new RegExp(`^(?:${MODEL_ID}\\*?|\\*)$`),
    'Must be a model id, optionally ending with "*" for a prefix match (e.g. "gpt-4o*")',
  );

// --- Key policy ----------------------------------------------------------------------------

// Large enough for any real catalog, small enough that a policy stays cheap to cache and scan.
const MAX_LIST_LENGTH = 1_000;
export const MAX_TOKENS_PER_REQUEST = 10_000_000;

const positiveInt = z.int().min(1, "Must be a positive integer");

// An empty allow list would mean "nothing is allowed" — almost always a cleared form field, not
// an intent — so it is refused; omitting the list allows everything.
function allowList<T extends z.ZodType>(item: T, what: string) {
  return z
    .array(item)
    .min(1, `Must list at least one ${what}; omit "allow" to allow every ${what}`)
    .max(MAX_LIST_LENGTH);
}

function accessLists<T extends z.ZodType>(item: T, what: string) {
  return z.strictObject({
    allow: allowList(item, what).optional(),
    block: z.array(item).max(MAX_LIST_LENGTH).optional(),
  });
}

export const keyPolicySchema = z.strictObject({
  mode: policyModeSchema.optional(),
  models: accessLists(modelPatternSchema, "model").optional(),
  providers: accessLists(slugSchema, "provider").optional(),
  tiers: z
    .array(tierSchema)
    .min(1, 'Must list at least one tier; omit "tiers" to allow every tier')
    .max(Tiers.length)
    .optional(),
  maxInputUsdPer1M: priceLimitSchema.optional(),
  maxOutputUsdPer1M: priceLimitSchema.optional(),
  maxTokensPerRequest: positiveInt
    .max(MAX_TOKENS_PER_REQUEST, `Must be at most ${MAX_TOKENS_PER_REQUEST}`)
    .optional(),
  rateLimit: z
    .strictObject({
      requestsPerMinute: positiveInt.optional(),
      tokensPerMinute: positiveInt.optional(),
    })
    .optional(),
});

export type KeyPolicy = z.infer<typeof keyPolicySchema>;

export type PriceLimitsNanos = { inputPer1M?: bigint; outputPer1M?: bigint };

/**
 * The policy's price limits as nanos per 1M tokens. A stored limit that does not parse (it
 * was validated on write, so only corrupted data) reads as 0: the key then reaches only free
 * models instead of every model.
 */
export function policyPriceLimits(policy: KeyPolicy | null | undefined): PriceLimitsNanos {
  const limits: PriceLimitsNanos = {};
  if (policy?.maxInputUsdPer1M !== undefined) {
    limits.inputPer1M = parseUsd(policy.maxInputUsdPer1M) ?? 0n;
  }
  if (policy?.maxOutputUsdPer1M !== undefined) {
    limits.outputPer1M = parseUsd(policy.maxOutputUsdPer1M) ?? 0n;
  }
  return limits;
}
