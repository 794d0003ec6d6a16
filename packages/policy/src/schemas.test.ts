import { describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import {
  budgetPeriodSchema,
  type KeyPolicy,
  keyPolicySchema,
  modelIdSchema,
  modelPatternSchema,
  policyPriceLimits,
  priceLimitSchema,
  pricePer1MSchema,
  slugSchema,
  spendLimitSchema,
  tierSchema,
  tokenParamSchema,
  usdAmountSchema,
} from "./schemas.ts";

// The contract's KeyPolicy, verbatim: the inferred type must stay exactly this.
type ContractKeyPolicy = {
  mode?: "enforce" | "shadow";
  models?: { allow?: string[]; block?: string[] };
  providers?: { allow?: string[]; block?: string[] };
  tiers?: ("free" | "paid" | "premium")[];
  maxInputUsdPer1M?: string;
  maxOutputUsdPer1M?: string;
  maxTokensPerRequest?: number;
  rateLimit?: { requestsPerMinute?: number; tokensPerMinute?: number };
};

function issues(schema: z.ZodType, input: unknown) {
  const result = schema.safeParse(input);
  expect(result.success).toBe(false);
  return result.error?.issues ?? [];
}

describe("USD amounts", () => {
  it.each([
    ["0", 0n],
    ["12.50", 12_500_000_000n],
    ["0.000000001", 1n],
    ["5000000", 5_000_000_000_000_000n],
  ])("usdAmountSchema parses %s", (text, nanos) => {
    expect(usdAmountSchema.parse(text)).toBe(nanos);
  });

  it.each([
    ["-1", "decimal string"],
    ["1e3", "decimal string"],
    [".5", "decimal string"],
    ["0.0000000001", "at most 9 decimal places"],
    ["", "decimal string"],
    ["1".repeat(40), "decimal string"],
  ])("usdAmountSchema refuses %j", (text, fragment) => {
    const [issue] = issues(usdAmountSchema, text);
    expect(issue?.message).toContain(fragment);
  });

  it("explains why a JSON number is refused", () => {
    const [issue] = issues(usdAmountSchema, 12.5);
    expect(issue?.message).toMatch(/not a JSON number/);
  });

  it.each([
    ["0.01", 10_000_000n],
    ["1000000", 1_000_000_000_000_000n],
    ["1000000.000000000", 1_000_000_000_000_000n],
  ])("spendLimitSchema accepts %s", (text, nanos) => {
    expect(spendLimitSchema.parse(text)).toBe(nanos);
  });

  it.each([
    ["0", /greater than 0: omit the spending limit/],
    ["0.000000000", /greater than 0/],
    ["1000000.000000001", /at most 1000000 USD/],
    ["2000000", /at most 1000000 USD/],
    ["ten", /decimal string/],
  ])("spendLimitSchema refuses %s", (text, message) => {
    const [issue] = issues(spendLimitSchema, text);
    expect(issue?.message).toMatch(message);
  });

  it.each([
    ["0", 0n],
    ["0.15", 150_000_000n],
    ["10000", 10_000_000_000_000n],
  ])("pricePer1MSchema accepts %s", (text, nanos) => {
    expect(pricePer1MSchema.parse(text)).toBe(nanos);
  });

  it.each(["10000.000000001", "20000", "-0.5"])("pricePer1MSchema refuses %s", (text) => {
    expect(pricePer1MSchema.safeParse(text).success).toBe(false);
  });

  it("priceLimitSchema keeps a canonical decimal string", () => {
    expect(priceLimitSchema.parse("0.150")).toBe("0.15");
    expect(priceLimitSchema.parse("12.50")).toBe("12.5");
    expect(priceLimitSchema.parse("007")).toBe("7");
    expect(priceLimitSchema.safeParse("10000.5").success).toBe(false);
  });
});

describe("vocabularies", () => {
  it("accept exactly their values", () => {
    expect(tierSchema.options).toEqual(["free", "paid", "premium"]);
    expect(budgetPeriodSchema.options).toEqual(["none", "daily", "weekly", "monthly"]);
    expect(tokenParamSchema.options).toEqual(["max_tokens", "max_completion_tokens"]);
    expect(tierSchema.safeParse("gold").success).toBe(false);
    expect(budgetPeriodSchema.safeParse("yearly").success).toBe(false);
    expect(tokenParamSchema.safeParse("max_output_tokens").success).toBe(false);
  });
});

describe("ids", () => {
  it.each(["openai", "anthropic", "azure-eu", "my_provider.2", "0"])("slug %s", (id) => {
    expect(slugSchema.safeParse(id).success).toBe(true);
  });

  it.each(["", "OpenAI", "-openai", "open ai", "a/b", "a".repeat(65), "é"])(
    "not a slug: %j",
    (id) => {
      expect(slugSchema.safeParse(id).success).toBe(false);
    },
  );

  it.each([
    "gpt-4o-mini",
    "gpt-4.1",
    "o3-mini",
    "claude-3-5-sonnet-20241022",
    "claude-sonnet-4-5@20250929",
    "ft:gpt-4o:org:x",
    "ft:gpt-4o-mini-2024-07-18:acme::AbC12xYz",
    "meta-llama/Llama-3.1-8B-Instruct",
    "anthropic.claude-3-5-sonnet-20241022-v2:0",
  ])("model id %s", (id) => {
    expect(modelIdSchema.safeParse(id).success).toBe(true);
    expect(modelPatternSchema.safeParse(id).success).toBe(true);
  });

  it.each(["", " gpt-4o", "gpt 4o", "-gpt", ":x", "gpt-4o*", "a".repeat(129), "gpt\n"])(
    "not a model id: %j",
    (id) => {
      expect(modelIdSchema.safeParse(id).success).toBe(false);
    },
  );

  it.each(["gpt-4o*", "claude-3-*", "*", "ft:*"])("model pattern %s", (pattern) => {
    expect(modelPatternSchema.safeParse(pattern).success).toBe(true);
  });

  it.each(["*gpt", "gpt-*-mini", "gpt**", "**"])("not a model pattern: %s", (pattern) => {
    const [issue] = issues(modelPatternSchema, pattern);
    expect(issue?.message).toMatch(/trailing|optionally ending with "\*"/);
  });
});

describe("keyPolicySchema", () => {
  it("has exactly the contract's KeyPolicy type", () => {
    expectTypeOf<KeyPolicy>().toEqualTypeOf<ContractKeyPolicy>();
    expectTypeOf<z.input<typeof keyPolicySchema>>().toEqualTypeOf<ContractKeyPolicy>();
  });

  it.each<[string, unknown]>([
    ["empty (full access)", {}],
    ["shadow mode only", { mode: "shadow" }],
    [
      "everything",
      {
        mode: "enforce",
        models: { allow: ["gpt-4o*", "claude-3-5-sonnet-20241022"], block: ["gpt-4o-audio*"] },
        providers: { allow: ["openai", "anthropic"], block: ["azure-eu"] },
        tiers: ["free", "paid"],
        maxInputUsdPer1M: "2.50",
        maxOutputUsdPer1M: "10",
        maxTokensPerRequest: 4096,
        rateLimit: { requestsPerMinute: 60, tokensPerMinute: 100_000 },
      },
    ],
    ["an empty block list", { models: { block: [] } }],
    ["free models only", { maxInputUsdPer1M: "0", maxOutputUsdPer1M: "0" }],
    ["the largest max tokens", { maxTokensPerRequest: 10_000_000 }],
  ])("accepts %s", (_, policy) => {
    expect(keyPolicySchema.safeParse(policy).success).toBe(true);
  });

  it("canonicalises the price limits", () => {
    expect(keyPolicySchema.parse({ maxInputUsdPer1M: "2.50" })).toEqual({
      maxInputUsdPer1M: "2.5",
    });
  });

  it.each<[string, unknown, (string | number)[], RegExp]>([
    ["unknown top-level field", { model: ["x"] }, [], /Unrecognized key: "model"/],
    ["unknown field in models", { models: { deny: ["x"] } }, ["models"], /"deny"/],
    ["unknown field in providers", { providers: { approved: [] } }, ["providers"], /"approved"/],
    ["unknown field in rateLimit", { rateLimit: { rpm: 1 } }, ["rateLimit"], /"rpm"/],
    ["unknown mode", { mode: "audit" }, ["mode"], /enforce|shadow/],
    [
      "bad model pattern",
      { models: { block: ["ok", "*bad"] } },
      ["models", "block", 1],
      /model id/,
    ],
    ["empty allow list", { models: { allow: [] } }, ["models", "allow"], /omit "allow"/],
    ["bad provider id", { providers: { allow: ["Open AI"] } }, ["providers", "allow", 0], /slug/],
    ["empty provider allow list", { providers: { allow: [] } }, ["providers", "allow"], /provider/],
    ["unknown tier", { tiers: ["free", "gold"] }, ["tiers", 1], /free|paid|premium/],
    ["empty tiers", { tiers: [] }, ["tiers"], /omit "tiers"/],
    ["price as a number", { maxInputUsdPer1M: 2.5 }, ["maxInputUsdPer1M"], /JSON number/],
    ["price above 10 000", { maxOutputUsdPer1M: "10001" }, ["maxOutputUsdPer1M"], /at most 10000/],
    ["price with a sign", { maxOutputUsdPer1M: "-1" }, ["maxOutputUsdPer1M"], /decimal string/],
    ["max tokens 0", { maxTokensPerRequest: 0 }, ["maxTokensPerRequest"], /positive/],
    ["fractional max tokens", { maxTokensPerRequest: 1.5 }, ["maxTokensPerRequest"], /int/],
    [
      "max tokens above 10M",
      { maxTokensPerRequest: 10_000_001 },
      ["maxTokensPerRequest"],
      /at most 10000000/,
    ],
    [
      "rpm 0",
      { rateLimit: { requestsPerMinute: 0 } },
      ["rateLimit", "requestsPerMinute"],
      /positive/,
    ],
    [
      "tpm -5",
      { rateLimit: { tokensPerMinute: -5 } },
      ["rateLimit", "tokensPerMinute"],
      /positive/,
    ],
    ["models not an object", { models: ["gpt-4o"] }, ["models"], /object/],
  ])("refuses %s, naming the field", (_, policy, path, message) => {
    const [issue] = issues(keyPolicySchema, policy);
    expect(issue?.path).toEqual(path);
    expect(issue?.message).toMatch(message);
  });

  it("names every unknown key", () => {
    const all = issues(keyPolicySchema, { a: 1, models: { b: 1 }, rateLimit: { c: 1 } });
    expect(
      all.map((issue) => [issue.path, issue.code === "unrecognized_keys" && issue.keys]),
    ).toEqual(
      expect.arrayContaining([
        [[], ["a"]],
        [["models"], ["b"]],
        [["rateLimit"], ["c"]],
      ]),
    );
  });

  it("refuses a policy that is not an object", () => {
    expect(keyPolicySchema.safeParse(null).success).toBe(false);
    expect(keyPolicySchema.safeParse("{}").success).toBe(false);
  });
});

describe("policyPriceLimits", () => {
  it("reads the limits as nanos", () => {
    expect(policyPriceLimits({ maxInputUsdPer1M: "2.5", maxOutputUsdPer1M: "0" })).toEqual({
      inputPer1M: 2_500_000_000n,
      outputPer1M: 0n,
    });
    expect(policyPriceLimits({})).toEqual({});
    expect(policyPriceLimits(null)).toEqual({});
    expect(policyPriceLimits(undefined)).toEqual({});
  });

  it("reads a corrupted limit as 0, failing closed", () => {
    expect(policyPriceLimits({ maxInputUsdPer1M: "lots" })).toEqual({ inputPer1M: 0n });
  });
});
