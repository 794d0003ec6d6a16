// Closed vocabularies shared by the schemas, the evaluator and the windows. Kept as `as const`
// tuples (no `enum`) so zod can build its enums from the same source the unions come from.

export const Tiers = ["free", "paid", "premium"] as const;
export type Tier = (typeof Tiers)[number];

export const BudgetPeriods = ["none", "daily", "weekly", "monthly"] as const;
export type BudgetPeriod = (typeof BudgetPeriods)[number];

export const TokenParams = ["max_tokens", "max_completion_tokens"] as const;
export type TokenParam = (typeof TokenParams)[number];

export const PolicyModes = ["enforce", "shadow"] as const;
export type PolicyMode = (typeof PolicyModes)[number];

export const ProviderKinds = ["openai", "anthropic"] as const;
export type ProviderKind = (typeof ProviderKinds)[number];

// Every code `evaluate` can answer with. The proxy maps them to HTTP status and error type;
// rate limits and reservations are decided later (in Redis), so their codes are not here.
export const DenialCodes = [
  "invalid_api_key",
  "key_expired",
  "key_inactive",
  "model_not_found",
  "model_not_allowed",
  "provider_blocked",
  "tier_not_allowed",
  "price_limit_exceeded",
  "max_tokens_exceeded",
  "spending_limit_reached",
] as const;
export type DenialCode = (typeof DenialCodes)[number];

export type Denial = {
  code: DenialCode;
  message: string;
  // The request field concerned, as in OpenAI's error body (`model`, `max_tokens`, …).
  param?: string;
};

export type CatalogModel = {
  id: string;
  providerId: string;
  tier: Tier;
  inputPer1M: bigint;
  outputPer1M: bigint;
  active: boolean;
  maxOutputTokens: number;
  tokenParam: TokenParam;
};

export type CatalogProvider = {
  id: string;
  kind: ProviderKind;
  // Absent means active: providers that cannot be switched off carry no flag.
  active?: boolean;
};

// Structural so a `Map` from the proxy's in-memory cache fits as is; `get` cannot throw,
// which keeps `evaluate` total.
export type Catalog = {
  readonly models: { get(id: string): CatalogModel | undefined };
  readonly providers: { get(id: string): CatalogProvider | undefined };
};

export type EvaluateRequest = {
  model: string;
  // The client's explicit `max_tokens` / `max_completion_tokens`; absent when the client left
  // the bound to the gateway.
  maxOutputTokens?: number;
  // Which field the client used, so the message and `param` name it (the Responses API's is
  // `max_output_tokens`).
  maxOutputTokensParam?: TokenParam | "max_output_tokens";
};
