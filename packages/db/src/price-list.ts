/**
 * Default catalog loaded by `models.importDefaults` and the demo: list prices of common OpenAI
 * and Anthropic models in USD per 1M tokens, as the vendors published them on the date below.
 * Tier: "premium" from $10 per 1M output tokens, "free" at $0, otherwise "paid".
 * cachedInputUsdPer1M: the price of input served from the vendor's prompt cache (OpenAI's cached
 * input, Anthropic's cache reads), where the vendor lists one.
 */
export const priceListDate = "2025-06-01";

export type PriceListEntry = {
  id: string;
  kind: "openai" | "anthropic";
  inputUsdPer1M: string;
  outputUsdPer1M: string;
  cachedInputUsdPer1M: string | null;
  tier: "free" | "paid" | "premium";
  maxOutputTokens: number;
  tokenParam: "max_tokens" | "max_completion_tokens";
};

const openai = (
  id: string,
  [input, output, cached]: [string, string, string | null],
  tier: PriceListEntry["tier"],
  maxOutputTokens: number,
  tokenParam: PriceListEntry["tokenParam"] = "max_tokens",
): PriceListEntry => ({
  id,
  kind: "openai",
  inputUsdPer1M: input,
  outputUsdPer1M: output,
  cachedInputUsdPer1M: cached,
  tier,
  maxOutputTokens,
  tokenParam,
});

const anthropic = (
  id: string,
  [input, output, cached]: [string, string, string | null],
  tier: PriceListEntry["tier"],
  maxOutputTokens: number,
): PriceListEntry => ({
  id,
  kind: "anthropic",
  inputUsdPer1M: input,
  outputUsdPer1M: output,
  cachedInputUsdPer1M: cached,
  tier,
  maxOutputTokens,
  tokenParam: "max_tokens",
});

export const defaultPriceList: PriceListEntry[] = [
  openai("gpt-4o", ["2.5", "10", "1.25"], "premium", 16384),
  openai("gpt-4o-mini", ["0.15", "0.6", "0.075"], "paid", 16384),
  openai("gpt-4.1", ["2", "8", "0.5"], "paid", 32768),
  openai("gpt-4.1-mini", ["0.4", "1.6", "0.1"], "paid", 32768),
  openai("gpt-4.1-nano", ["0.1", "0.4", "0.025"], "paid", 32768),
  openai("gpt-4-turbo", ["10", "30", null], "premium", 4096),
  openai("gpt-3.5-turbo", ["0.5", "1.5", null], "paid", 4096),
  // Reasoning models take max_completion_tokens and refuse max_tokens.
  openai("o3", ["2", "8", "0.5"], "paid", 100000, "max_completion_tokens"),
  openai("o3-mini", ["1.1", "4.4", "0.55"], "paid", 100000, "max_completion_tokens"),
  openai("o4-mini", ["1.1", "4.4", "0.275"], "paid", 100000, "max_completion_tokens"),
  openai("text-embedding-3-small", ["0.02", "0", null], "paid", 4096),
  openai("text-embedding-3-large", ["0.13", "0", null], "paid", 4096),
  anthropic("claude-opus-4-20250514", ["15", "75", "1.5"], "premium", 32000),
  anthropic("claude-sonnet-4-20250514", ["3", "15", "0.3"], "premium", 64000),
  anthropic("claude-3-7-sonnet-20250219", ["3", "15", "0.3"], "premium", 64000),
  anthropic("claude-3-5-sonnet-20241022", ["3", "15", "0.3"], "premium", 8192),
  anthropic("claude-3-5-haiku-20241022", ["0.8", "4", "0.08"], "paid", 8192),
  anthropic("claude-3-haiku-20240307", ["0.25", "1.25", "0.03"], "paid", 4096),
];
