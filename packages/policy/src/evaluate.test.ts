import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CatalogModel,
  type CatalogProvider,
  type Decision,
  type DenialCode,
  DenialCodes,
  type EvaluateKey,
  type EvaluateRequest,
  evaluate,
  matchesModelPattern,
  ShadowableCodes,
} from "./evaluate.ts";
import type { KeyPolicy } from "./schemas.ts";
import { Tiers } from "./types.ts";

const usd = (dollars: number) => BigInt(Math.round(dollars * 1_000_000)) * 1_000n;

function model(
  id: string,
  providerId: string,
  tier: CatalogModel["tier"],
  input: number,
  output: number,
  active = true,
): CatalogModel {
  return {
    id,
    providerId,
    tier,
    inputPer1M: usd(input),
    outputPer1M: usd(output),
    active,
    maxOutputTokens: 4096,
    tokenParam: "max_tokens",
  };
}

const models = [
  model("gpt-4o", "openai", "paid", 2.5, 10),
  model("gpt-4o-mini", "openai", "free", 0.15, 0.6),
  model("gpt-4", "openai", "premium", 30, 60),
  model("claude-3-5-sonnet-20241022", "anthropic", "paid", 3, 15),
  model("claude-3-opus-20240229", "anthropic", "premium", 15, 75),
  model("local-llama", "local", "free", 0, 0),
  model("retired", "openai", "paid", 1, 1, false),
  model("orphan", "gone", "paid", 1, 1),
  model("switched-off", "off", "paid", 1, 1),
];

const providers: CatalogProvider[] = [
  { id: "openai", kind: "openai" },
  { id: "anthropic", kind: "anthropic" },
  { id: "local", kind: "openai", active: true },
  { id: "off", kind: "openai", active: false },
];

const catalog = {
  models: new Map(models.map((m) => [m.id, m])),
  providers: new Map(providers.map((p) => [p.id, p])),
};

const NOW = new Date("2026-11-27T12:00:00Z");

function key(overrides: Partial<EvaluateKey> = {}): EvaluateKey {
  return {
    enabled: true,
    limitReached: false,
    revokedAt: null,
    expiresAt: null,
    policy: null,
    ...overrides,
  };
}

function run(
  requestOrModel: EvaluateRequest | string,
  keyOverrides: Partial<EvaluateKey> = {},
  now: Date = NOW,
): Decision {
  const request = typeof requestOrModel === "string" ? { model: requestOrModel } : requestOrModel;
  return evaluate(request, key(keyOverrides), catalog, now);
}

function codeOf(decision: Decision): DenialCode | "allowed" {
  return decision.allowed ? "allowed" : decision.denial.code;
}

function shadowCodeOf(decision: Decision): DenialCode | undefined {
  return decision.allowed ? decision.shadowDenial?.code : undefined;
}

type Row = [
  name: string,
  request: EvaluateRequest | string,
  key: Partial<EvaluateKey>,
  expected: DenialCode | "allowed",
];

// Policies that fail exactly one rule for gpt-4o (openai, paid, $2.5 / $10 per 1M).
const failing = {
  model: { models: { allow: ["claude-*"] } },
  provider: { providers: { block: ["openai"] } },
  tier: { tiers: ["free"] },
  price: { maxInputUsdPer1M: "1" },
  maxTokens: { maxTokensPerRequest: 100 },
} satisfies Record<string, KeyPolicy>;

describe("key state", () => {
  const revokedAt = new Date("2026-11-01T00:00:00Z");
  const expired = new Date("2026-11-27T12:00:00Z"); // == NOW: expired at that instant
  const future = new Date(NOW.getTime() + 1);

  it.each<Row>([
    ["an active key", "gpt-4o", {}, "allowed"],
    ["revoked", "gpt-4o", { revokedAt }, "invalid_api_key"],
    ["expiring at now exactly", "gpt-4o", { expiresAt: expired }, "key_expired"],
    ["expired long ago", "gpt-4o", { expiresAt: new Date(0) }, "key_expired"],
    ["expiring 1 ms after now", "gpt-4o", { expiresAt: future }, "allowed"],
    ["disabled", "gpt-4o", { enabled: false }, "key_inactive"],
    ["revoked > expired", "gpt-4o", { revokedAt, expiresAt: expired }, "invalid_api_key"],
    ["revoked > disabled", "gpt-4o", { revokedAt, enabled: false }, "invalid_api_key"],
    ["expired > disabled", "gpt-4o", { expiresAt: expired, enabled: false }, "key_expired"],
    [
      "revoked > expired > disabled",
      "gpt-4o",
      { revokedAt, expiresAt: expired, enabled: false },
      "invalid_api_key",
    ],
    ["disabled > unknown model", "nope", { enabled: false }, "key_inactive"],
    ["disabled > policy", "gpt-4o", { enabled: false, policy: failing.model }, "key_inactive"],
    ["disabled > limit reached", "gpt-4o", { enabled: false, limitReached: true }, "key_inactive"],
    ["revoked > limit reached", "gpt-4o", { revokedAt, limitReached: true }, "invalid_api_key"],
  ])("%s → %s", (_, request, overrides, expected) => {
    expect(codeOf(run(request, overrides))).toBe(expected);
  });

  it("says what happened", () => {
    expect(run("gpt-4o", { revokedAt })).toEqual({
      allowed: false,
      denial: {
        code: "invalid_api_key",
        message: "Invalid API Key: This API key has been revoked.",
      },
    });
    expect(run("gpt-4o", { enabled: false })).toEqual({
      allowed: false,
      denial: { code: "key_inactive", message: "Key Inactive: This API key has been disabled." },
    });
    expect(run("gpt-4o", { expiresAt: expired })).toEqual({
      allowed: false,
      denial: {
        code: "key_expired",
        message: "Key Expired: This API key expired at 2026-11-27T12:00:00.000Z.",
      },
    });
  });

  it("fails closed on an invalid clock", () => {
    expect(codeOf(run("gpt-4o", { expiresAt: future }, new Date(Number.NaN)))).toBe("key_expired");
  });
});

describe("model exists", () => {
  it.each<Row>([
    ["unknown model", "gpt-5-ultra", {}, "model_not_found"],
    ["inactive model", "retired", {}, "model_not_found"],
    ["model of a deleted provider", "orphan", {}, "model_not_found"],
    ["model of an inactive provider", "switched-off", {}, "model_not_found"],
    ["ids are case-sensitive", "GPT-4o", {}, "model_not_found"],
    ["a prefix is not a model", "gpt-4", {}, "allowed"],
    ["unknown > model rules", "gpt-5", { policy: { models: { block: ["*"] } } }, "model_not_found"],
    ["unknown > limit reached", "gpt-5", { limitReached: true }, "model_not_found"],
  ])("%s → %s", (_, request, overrides, expected) => {
    expect(codeOf(run(request, overrides))).toBe(expected);
  });

  it("names the model", () => {
    expect(run("gpt-5-ultra")).toEqual({
      allowed: false,
      denial: {
        code: "model_not_found",
        message: "The model (gpt-5-ultra) does not exist or is not active in this project.",
        param: "model",
      },
    });
  });

  it("bounds a huge model name in the message", () => {
    const decision = run("x".repeat(100_000));
    expect(decision.allowed).toBe(false);
    if (!decision.allowed) expect(decision.denial.message.length).toBeLessThan(300);
  });
});

describe("model allow / block lists", () => {
  it.each<Row>([
    ["no lists: everything", "gpt-4", { policy: { models: {} } }, "allowed"],
    ["in the allow list", "gpt-4o", { policy: { models: { allow: ["gpt-4o"] } } }, "allowed"],
    [
      "not in the allow list",
      "gpt-4",
      { policy: { models: { allow: ["gpt-4o"] } } },
      "model_not_allowed",
    ],
    ["prefix allow", "gpt-4o-mini", { policy: { models: { allow: ["gpt-4o*"] } } }, "allowed"],
    ["prefix allow, exact id", "gpt-4o", { policy: { models: { allow: ["gpt-4o*"] } } }, "allowed"],
    [
      "prefix allow miss",
      "gpt-4",
      { policy: { models: { allow: ["gpt-4o*"] } } },
      "model_not_allowed",
    ],
    [
      "exact allow is not a prefix",
      "gpt-4o-mini",
      { policy: { models: { allow: ["gpt-4o"] } } },
      "model_not_allowed",
    ],
    ["blocked exactly", "gpt-4", { policy: { models: { block: ["gpt-4"] } } }, "model_not_allowed"],
    [
      "exact block is not a prefix",
      "gpt-4o",
      { policy: { models: { block: ["gpt-4"] } } },
      "allowed",
    ],
    [
      "blocked by prefix",
      "gpt-4o",
      { policy: { models: { block: ["gpt-4*"] } } },
      "model_not_allowed",
    ],
    ["blocked by *", "local-llama", { policy: { models: { block: ["*"] } } }, "model_not_allowed"],
    ["allowed by *", "local-llama", { policy: { models: { allow: ["*"] } } }, "allowed"],
    [
      "block beats allow (exact both)",
      "gpt-4o",
      { policy: { models: { allow: ["gpt-4o"], block: ["gpt-4o"] } } },
      "model_not_allowed",
    ],
    [
      "block beats allow (prefix block)",
      "gpt-4o-mini",
      { policy: { models: { allow: ["gpt-4o-mini"], block: ["gpt-4o*"] } } },
      "model_not_allowed",
    ],
    [
      "block of a sibling leaves the allow",
      "gpt-4o",
      { policy: { models: { allow: ["gpt-4o*"], block: ["gpt-4o-mini"] } } },
      "allowed",
    ],
    [
      "an empty allow list allows nothing",
      "gpt-4o",
      { policy: { models: { allow: [] } } },
      "model_not_allowed",
    ],
    [
      "model > provider",
      "gpt-4o",
      { policy: { models: { block: ["gpt-4o"] }, providers: { block: ["openai"] } } },
      "model_not_allowed",
    ],
  ])("%s → %s", (_, request, overrides, expected) => {
    expect(codeOf(run(request, overrides))).toBe(expected);
  });

  it("uses the seed's message", () => {
    expect(run("gpt-4", { policy: { models: { allow: ["gpt-4o"] } } })).toEqual({
      allowed: false,
      denial: {
        code: "model_not_allowed",
        message:
          "Policy Violation: The requested model (gpt-4) is not authorized for this API key.",
        param: "model",
      },
    });
    const blocked = run("gpt-4", { policy: { models: { block: ["gpt-4"] } } });
    expect(blocked.allowed || blocked.denial.message).toBe(
      "Policy Violation: The requested model (gpt-4) is blocked for this API key.",
    );
  });

  it.each([
    ["gpt-4o", "gpt-4o", true],
    ["gpt-4o", "gpt-4o-mini", false],
    ["gpt-4o*", "gpt-4o-mini", true],
    ["gpt-4o*", "gpt-4o", true],
    ["gpt-4o*", "gpt-4", false],
    ["*", "anything", true],
    ["ft:*", "ft:gpt-4o:org:x", true],
    ["gpt-4o", "GPT-4O", false],
  ])("pattern %s matches %s: %s", (pattern, id, expected) => {
    expect(matchesModelPattern(pattern, id)).toBe(expected);
  });
});

describe("provider allow / block lists", () => {
  it.each<Row>([
    ["blocked", "gpt-4o", { policy: { providers: { block: ["openai"] } } }, "provider_blocked"],
    [
      "another provider blocked",
      "gpt-4o",
      { policy: { providers: { block: ["anthropic"] } } },
      "allowed",
    ],
    ["approved", "gpt-4o", { policy: { providers: { allow: ["openai"] } } }, "allowed"],
    [
      "not approved",
      "gpt-4o",
      { policy: { providers: { allow: ["anthropic"] } } },
      "provider_blocked",
    ],
    [
      "block beats allow",
      "gpt-4o",
      { policy: { providers: { allow: ["openai"], block: ["openai"] } } },
      "provider_blocked",
    ],
    [
      "model allowed, provider blocked",
      "gpt-4o",
      { policy: { models: { allow: ["gpt-4o"] }, providers: { block: ["openai"] } } },
      "provider_blocked",
    ],
    [
      "provider > tier",
      "gpt-4o",
      { policy: { providers: { block: ["openai"] }, tiers: ["free"] } },
      "provider_blocked",
    ],
  ])("%s → %s", (_, request, overrides, expected) => {
    expect(codeOf(run(request, overrides))).toBe(expected);
  });

  it("names the provider and the model", () => {
    const blocked = run("gpt-4o", { policy: failing.provider });
    expect(blocked).toEqual({
      allowed: false,
      denial: {
        code: "provider_blocked",
        message:
          "Policy Violation: The provider (openai) of model gpt-4o is blocked for this API key.",
        param: "model",
      },
    });
    const unapproved = run("gpt-4o", { policy: { providers: { allow: ["anthropic"] } } });
    expect(unapproved.allowed || unapproved.denial.message).toBe(
      "Policy Violation: The provider (openai) of model gpt-4o is not approved for this API key.",
    );
  });
});

describe("tiers", () => {
  it.each<Row>([
    ["free model, free tier", "gpt-4o-mini", { policy: { tiers: ["free"] } }, "allowed"],
    ["paid model, free tier", "gpt-4o", { policy: { tiers: ["free"] } }, "tier_not_allowed"],
    [
      "premium model, free+paid",
      "gpt-4",
      { policy: { tiers: ["free", "paid"] } },
      "tier_not_allowed",
    ],
    ["premium model, premium", "gpt-4", { policy: { tiers: ["premium"] } }, "allowed"],
    ["no tiers: all", "claude-3-opus-20240229", { policy: {} }, "allowed"],
    [
      "tier > price",
      "gpt-4",
      { policy: { tiers: ["free"], maxInputUsdPer1M: "1" } },
      "tier_not_allowed",
    ],
  ])("%s → %s", (_, request, overrides, expected) => {
    expect(codeOf(run(request, overrides))).toBe(expected);
  });

  it("names the tier and the model", () => {
    const decision = run("gpt-4", { policy: { tiers: ["free", "paid"] } });
    expect(decision.allowed || decision.denial.message).toBe(
      "Policy Violation: The pricing tier (premium) of model gpt-4 is not allowed for this API key.",
    );
  });
});

describe("price limits", () => {
  it.each<Row>([
    ["input above", "gpt-4o", { policy: { maxInputUsdPer1M: "2.49" } }, "price_limit_exceeded"],
    ["input equal", "gpt-4o", { policy: { maxInputUsdPer1M: "2.5" } }, "allowed"],
    [
      "input 1 nano below price",
      "gpt-4o",
      { policy: { maxInputUsdPer1M: "2.499999999" } },
      "price_limit_exceeded",
    ],
    ["output above", "gpt-4o", { policy: { maxOutputUsdPer1M: "9.99" } }, "price_limit_exceeded"],
    ["output equal", "gpt-4o", { policy: { maxOutputUsdPer1M: "10" } }, "allowed"],
    [
      "free models only: free model",
      "local-llama",
      { policy: { maxInputUsdPer1M: "0", maxOutputUsdPer1M: "0" } },
      "allowed",
    ],
    [
      "free models only: cheap model",
      "gpt-4o-mini",
      { policy: { maxOutputUsdPer1M: "0" } },
      "price_limit_exceeded",
    ],
    [
      "price > max tokens",
      { model: "gpt-4o", maxOutputTokens: 1_000 },
      { policy: { maxInputUsdPer1M: "1", maxTokensPerRequest: 100 } },
      "price_limit_exceeded",
    ],
  ])("%s → %s", (_, request, overrides, expected) => {
    expect(codeOf(run(request, overrides))).toBe(expected);
  });

  it("names the price and the limit, input before output", () => {
    const both = run("gpt-4", { policy: { maxInputUsdPer1M: "2.50", maxOutputUsdPer1M: "10" } });
    expect(both).toEqual({
      allowed: false,
      denial: {
        code: "price_limit_exceeded",
        message:
          "Policy Violation: The model gpt-4 costs $30 per 1M input tokens, above this key's limit of $2.5.",
        param: "model",
      },
    });
    const output = run("gpt-4o", { policy: { maxOutputUsdPer1M: "0.6" } });
    expect(output.allowed || output.denial.message).toBe(
      "Policy Violation: The model gpt-4o costs $10 per 1M output tokens, above this key's limit of $0.6.",
    );
  });
});

describe("max tokens", () => {
  const policy = { maxTokensPerRequest: 1_000 };

  it.each<Row>([
    ["above", { model: "gpt-4o", maxOutputTokens: 1_001 }, { policy }, "max_tokens_exceeded"],
    ["equal", { model: "gpt-4o", maxOutputTokens: 1_000 }, { policy }, "allowed"],
    ["below", { model: "gpt-4o", maxOutputTokens: 1 }, { policy }, "allowed"],
    ["not given: the gateway picks the bound", { model: "gpt-4o" }, { policy }, "allowed"],
    ["no key maximum", { model: "gpt-4o", maxOutputTokens: 1_000_000 }, {}, "allowed"],
    [
      "max tokens > limit reached",
      { model: "gpt-4o", maxOutputTokens: 1_001 },
      { policy, limitReached: true },
      "max_tokens_exceeded",
    ],
  ])("%s → %s", (_, request, overrides, expected) => {
    expect(codeOf(run(request, overrides))).toBe(expected);
  });

  it("names the field the client used", () => {
    expect(run({ model: "gpt-4o", maxOutputTokens: 5_000 }, { policy })).toEqual({
      allowed: false,
      denial: {
        code: "max_tokens_exceeded",
        message: "max_tokens (5000) exceeds this key's maximum of 1000 tokens per request.",
        param: "max_tokens",
      },
    });
    const completion = run(
      { model: "gpt-4o", maxOutputTokens: 5_000, maxOutputTokensParam: "max_completion_tokens" },
      { policy },
    );
    expect(completion.allowed || completion.denial).toEqual({
      code: "max_tokens_exceeded",
      message:
        "max_completion_tokens (5000) exceeds this key's maximum of 1000 tokens per request.",
      param: "max_completion_tokens",
    });
  });
});

describe("spending limit reached", () => {
  it.each<Row>([
    ["limit reached", "gpt-4o", { limitReached: true }, "spending_limit_reached"],
    ["$0 models included", "local-llama", { limitReached: true }, "spending_limit_reached"],
    [
      "a policy that passes",
      "gpt-4o",
      { limitReached: true, policy: { tiers: ["paid"] } },
      "spending_limit_reached",
    ],
    [
      "policy > budget",
      "gpt-4o",
      { limitReached: true, policy: failing.model },
      "model_not_allowed",
    ],
  ])("%s → %s", (_, request, overrides, expected) => {
    expect(codeOf(run(request, overrides))).toBe(expected);
  });

  it.each([
    [{ spendLimitNanos: 10_000_000_000n }, "its spending limit of $10."],
    [
      { spendLimitNanos: 12_500_000_000n, budgetPeriod: "monthly" as const },
      "its monthly spending limit of $12.5.",
    ],
    [
      { spendLimitNanos: 1n, budgetPeriod: "daily" as const },
      "its daily spending limit of $0.000000001.",
    ],
    [{ budgetPeriod: "weekly" as const }, "its weekly spending limit."],
    [{ spendLimitNanos: null }, "its spending limit."],
  ])("names the limit (%o)", (overrides, ending) => {
    const decision = run("gpt-4o", { limitReached: true, ...overrides });
    expect(decision).toEqual({
      allowed: false,
      denial: {
        code: "spending_limit_reached",
        message: `Spending Limit Reached: This API key has reached ${ending}`,
      },
    });
  });
});

describe("allowed decisions", () => {
  it("carry the model and its provider, and no shadow denial", () => {
    const decision = run("claude-3-5-sonnet-20241022", { policy: { tiers: ["paid"] } });
    expect(decision).toEqual({
      allowed: true,
      model: catalog.models.get("claude-3-5-sonnet-20241022"),
      provider: catalog.providers.get("anthropic"),
    });
    expect("shadowDenial" in decision).toBe(false);
  });

  it("a key with no policy reaches every active model", () => {
    for (const m of models.filter((m) => m.active && !["orphan", "switched-off"].includes(m.id))) {
      expect(codeOf(run(m.id))).toBe("allowed");
    }
  });
});

describe("shadow mode", () => {
  const shadowRows: [DenialCode, EvaluateRequest, KeyPolicy][] = [
    ["model_not_allowed", { model: "gpt-4o" }, failing.model],
    ["model_not_allowed", { model: "gpt-4o" }, { models: { block: ["gpt-4o"] } }],
    ["provider_blocked", { model: "gpt-4o" }, failing.provider],
    ["tier_not_allowed", { model: "gpt-4o" }, failing.tier],
    ["price_limit_exceeded", { model: "gpt-4o" }, failing.price],
    ["price_limit_exceeded", { model: "gpt-4o" }, { maxOutputUsdPer1M: "1" }],
    ["max_tokens_exceeded", { model: "gpt-4o", maxOutputTokens: 101 }, failing.maxTokens],
  ];

  it.each(shadowRows)("%s is allowed and reported", (code, request, policy) => {
    const enforced = run(request, { policy: { ...policy, mode: "enforce" } });
    expect(codeOf(enforced)).toBe(code);
    const shadowed = run(request, { policy: { ...policy, mode: "shadow" } });
    expect(shadowed).toEqual({
      allowed: true,
      model: catalog.models.get("gpt-4o"),
      provider: catalog.providers.get("openai"),
      shadowDenial: enforced.allowed ? undefined : enforced.denial,
    });
  });

  it("reports the first failing rule, as enforcement would", () => {
    const policy: KeyPolicy = { mode: "shadow", ...failing.tier, ...failing.provider };
    expect(shadowCodeOf(run("gpt-4o", { policy }))).toBe("provider_blocked");
  });

  it("passes quietly when no rule fails", () => {
    const decision = run("gpt-4o", { policy: { mode: "shadow", tiers: ["paid"] } });
    expect(decision.allowed && decision.shadowDenial).toBeUndefined();
  });

  it.each<Row>([
    ["revoked", "gpt-4o", { revokedAt: new Date(0) }, "invalid_api_key"],
    ["expired", "gpt-4o", { expiresAt: new Date(0) }, "key_expired"],
    ["disabled", "gpt-4o", { enabled: false }, "key_inactive"],
    ["unknown model", "gpt-5", {}, "model_not_found"],
    ["inactive model", "retired", {}, "model_not_found"],
    ["limit reached", "gpt-4o", { limitReached: true }, "spending_limit_reached"],
    [
      "limit reached behind a shadowed rule",
      "gpt-4o",
      { limitReached: true, policy: failing.model },
      "spending_limit_reached",
    ],
  ])("never shadows: %s → %s", (_, request, overrides, expected) => {
    const policy = { ...(overrides.policy ?? {}), mode: "shadow" as const };
    expect(codeOf(run(request, { ...overrides, policy }))).toBe(expected);
  });

  it("the shadowable codes are exactly the policy rules", () => {
    expect([...ShadowableCodes].sort()).toEqual(
      [
        "max_tokens_exceeded",
        "model_not_allowed",
        "price_limit_exceeded",
        "provider_blocked",
        "tier_not_allowed",
      ].sort(),
    );
  });
});

describe("properties", () => {
  const modelIds = [...models.map((m) => m.id), "gpt-5", ""];
  const pattern = fc.oneof(
    fc.constantFrom(...modelIds),
    fc.constantFrom(...modelIds).map((id) => id.slice(0, 3) + "*"),
    fc.constant("*"),
  );
  const providerId = fc.constantFrom("openai", "anthropic", "local", "off", "gone");
  const price = fc.constantFrom("0", "0.15", "2.5", "10", "30", "100");
  const list = <T>(item: fc.Arbitrary<T>) => fc.array(item, { maxLength: 3 });
  const policy: fc.Arbitrary<KeyPolicy> = fc.record(
    {
      mode: fc.constantFrom("enforce", "shadow"),
      models: fc.record({ allow: list(pattern), block: list(pattern) }, { requiredKeys: [] }),
      providers: fc.record(
        { allow: list(providerId), block: list(providerId) },
        { requiredKeys: [] },
      ),
      tiers: fc.subarray([...Tiers]),
      maxInputUsdPer1M: price,
      maxOutputUsdPer1M: price,
      maxTokensPerRequest: fc.integer({ min: 1, max: 10_000 }),
    },
    { requiredKeys: [] },
  );
  const date = fc.option(
    fc.integer({ min: NOW.getTime() - 10, max: NOW.getTime() + 10 }).map((t) => new Date(t)),
    { nil: null },
  );
  const anyKey: fc.Arbitrary<EvaluateKey> = fc.record({
    enabled: fc.boolean(),
    limitReached: fc.boolean(),
    revokedAt: date,
    expiresAt: date,
    policy: fc.option(policy, { nil: null }),
    spendLimitNanos: fc.option(fc.bigInt({ min: 1n, max: 10n ** 15n }), { nil: null }),
  });
  const request: fc.Arbitrary<EvaluateRequest> = fc.record(
    {
      model: fc.oneof(fc.constantFrom(...modelIds), fc.string()),
      maxOutputTokens: fc.integer({ min: 1, max: 20_000 }),
    },
    { requiredKeys: ["model"] },
  );

  it("always answers with a known code, never throws", () => {
    fc.assert(
      fc.property(request, anyKey, (req, k) => {
        const decision = evaluate(req, k, catalog, NOW);
        if (decision.allowed) {
          expect(decision.model.id).toBe(req.model);
          expect(decision.provider.id).toBe(decision.model.providerId);
        } else {
          expect(DenialCodes).toContain(decision.denial.code);
          expect(decision.denial.message.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it("shadow mode allows exactly what enforcement denies for a shadowable rule", () => {
    fc.assert(
      fc.property(request, anyKey, policy, (req, k, p) => {
        const enforced = evaluate(req, { ...k, policy: { ...p, mode: "enforce" } }, catalog, NOW);
        const shadowed = evaluate(req, { ...k, policy: { ...p, mode: "shadow" } }, catalog, NOW);
        if (enforced.allowed) {
          expect(shadowed).toEqual(enforced);
        } else if (ShadowableCodes.has(enforced.denial.code)) {
          if (k.limitReached) {
            expect(codeOf(shadowed)).toBe("spending_limit_reached");
          } else {
            expect(shadowed.allowed && shadowed.shadowDenial).toEqual(enforced.denial);
          }
        } else {
          expect(shadowed).toEqual(enforced);
        }
      }),
    );
  });

  it("a matching block pattern always denies, whatever the allow list", () => {
    fc.assert(
      fc.property(request, policy, (req, p) => {
        const blocked = {
          ...p,
          mode: "enforce" as const,
          models: { ...p.models, block: [req.model] },
        };
        const decision = evaluate(req, key({ policy: blocked }), catalog, NOW);
        expect(decision.allowed).toBe(false);
      }),
    );
  });

  it("an allowed decision satisfies every rule", () => {
    fc.assert(
      fc.property(request, anyKey, (req, k) => {
        const decision = evaluate(req, k, catalog, NOW);
        if (!decision.allowed || decision.shadowDenial) return;
        const m = decision.model;
        expect(k.revokedAt).toBeNull();
        expect(k.enabled).toBe(true);
        expect(k.limitReached).toBe(false);
        expect(m.active).toBe(true);
        const p = k.policy;
        if (!p) return;
        if (p.models?.block)
          expect(p.models.block.some((b) => matchesModelPattern(b, m.id))).toBe(false);
        if (p.models?.allow)
          expect(p.models.allow.some((a) => matchesModelPattern(a, m.id))).toBe(true);
        if (p.providers?.block) expect(p.providers.block).not.toContain(m.providerId);
        if (p.providers?.allow) expect(p.providers.allow).toContain(m.providerId);
        if (p.tiers) expect(p.tiers).toContain(m.tier);
      }),
    );
  });
});
