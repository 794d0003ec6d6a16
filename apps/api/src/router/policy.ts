import { budgetWindow } from "@osm/budget/redis-key-names";
import { loadProjectCatalog } from "@osm/db/queries/gateway";
import { settledSpend } from "@osm/db/queries/keys";
import { shadowDenialCounts } from "@osm/db/queries/usage";
import type { ApiKeyRow } from "@osm/db/schema";
import {
  type CatalogModel,
  type CatalogProvider,
  type Denial,
  evaluate,
  matchesModelPattern,
} from "@osm/policy/evaluate";
import { formatUsd } from "@osm/policy/money";
import { affordableOutputTokens, requestCost, reservationCost } from "@osm/policy/pricing";
import { type KeyPolicy, MAX_TOKENS_PER_REQUEST, modelIdSchema } from "@osm/policy/schemas";
import { z } from "zod";
import { locateKey } from "../domain/keys.ts";
import { idSchema } from "../inputs.ts";
import { type AuthedContext, projectProcedure, router } from "../trpc.ts";

// The gateway's statuses for the codes a simulation can end in (the contract's error table).
const denialStatus: Record<string, number> = {
  invalid_api_key: 401,
  key_expired: 401,
  key_inactive: 403,
  model_not_found: 404,
  model_not_allowed: 403,
  provider_blocked: 403,
  tier_not_allowed: 403,
  price_limit_exceeded: 403,
  max_tokens_exceeded: 400,
  spending_limit_reached: 403,
};

// The proxy's default OSM_MIN_OUTPUT_TOKENS: below it an unbounded request is refused.
const minOutputTokens = 256;

const tokenCount = z.number().int().min(0).max(MAX_TOKENS_PER_REQUEST);

/** Which setting of the policy (or key) a denial comes from, so a person knows what to change. */
export function denialRule(
  denial: { code: string },
  policy: KeyPolicy,
  model: string | null,
): string {
  switch (denial.code) {
    case "model_not_allowed":
      return model && policy.models?.block?.some((p) => matchesModelPattern(p, model))
        ? "models.block"
        : "models.allow";
    case "provider_blocked":
      return "providers";
    case "tier_not_allowed":
      return "tiers";
    case "price_limit_exceeded":
      return "price limits";
    case "max_tokens_exceeded":
      return "maxTokensPerRequest";
    case "spending_limit_reached":
      return "spending limit";
    case "rate_limit_exceeded":
      return "rateLimit";
    case "model_not_found":
      return "catalog";
    default:
      return "key state";
  }
}

async function projectCatalog(ctx: AuthedContext, projectId: string) {
  const rows = await loadProjectCatalog(ctx.db, projectId);
  const slugOfRow = new Map(rows.providers.map((p) => [p.id, p.slug]));
  const providers = new Map<string, CatalogProvider>(
    rows.providers.map((p) => [p.slug, { id: p.slug, kind: p.kind }]),
  );
  const models = new Map<string, CatalogModel>(
    rows.models.map((m) => [
      m.slug,
      {
        id: m.slug,
        providerId: slugOfRow.get(m.providerId) ?? "",
        tier: m.tier,
        inputPer1M: m.inputPer1M,
        outputPer1M: m.outputPer1M,
        active: m.active,
        maxOutputTokens: m.maxOutputTokens,
        tokenParam: m.tokenParam,
      },
    ]),
  );
  return { models, providers };
}

async function liveWindow(ctx: AuthedContext, key: ApiKeyRow, now: Date) {
  const window = budgetWindow(key.budgetPeriod, key.spendResetAt, now);
  const live = await ctx.counters.read(key.id, window.id).catch(() => null);
  if (live) return live;
  const settled = await settledSpend(ctx.db, new Map([[key.id, window]]));
  return { spent: settled.get(key.id)?.window ?? 0n, reserved: 0n };
}

function refusal(denial: Denial, policy: KeyPolicy, model: string) {
  return {
    allowed: false as const,
    error: {
      code: denial.code,
      rule: denialRule(denial, policy, model),
      message: denial.message,
      status: denialStatus[denial.code] ?? 400,
    },
  };
}

const keyOfInput = (ctx: AuthedContext, input: { keyId: string }) => locateKey(ctx, input.keyId);

export const policyRouter = router({
  /**
   * What the gateway would answer this key for a request, by the real evaluate() and budget
   * arithmetic against the live counters, without reserving anything or calling a provider.
   */
  simulate: projectProcedure(
    "viewer",
    z.strictObject({
      keyId: idSchema,
      model: modelIdSchema,
      inputTokens: tokenCount.optional(),
      outputTokens: tokenCount.optional(),
      maxTokens: tokenCount.min(1).optional(),
    }),
    keyOfInput,
  ).query(async ({ ctx, input }) => {
    const key = ctx.target;
    const now = ctx.now();
    const policy = (key.policy ?? {}) as KeyPolicy;
    const catalog = await projectCatalog(ctx, key.projectId);
    const decision = evaluate(
      { model: input.model, maxOutputTokens: input.maxTokens },
      {
        enabled: key.enabled,
        limitReached: key.limitReached,
        revokedAt: key.revokedAt,
        expiresAt: key.expiresAt,
        policy,
        spendLimitNanos: key.spendLimit,
        budgetPeriod: key.budgetPeriod,
      },
      catalog,
      now,
    );
    if (!decision.allowed) return refusal(decision.denial, policy, input.model);
    const { model } = decision;
    const promptTokens = input.inputTokens ?? 0;
    const defaultOutput = Math.min(
      model.maxOutputTokens,
      policy.maxTokensPerRequest ?? Number.MAX_SAFE_INTEGER,
    );
    let outputBound = input.maxTokens ?? defaultOutput;
    let reserve = reservationCost({ promptTokens, outputTokens: outputBound }, model);
    let spent = 0n;
    let reserved = 0n;
    if (key.spendLimit !== null) {
      const live = await liveWindow(ctx, key, now);
      spent = live.spent;
      reserved = live.reserved;
      const remaining = key.spendLimit - spent - reserved;
      if (remaining <= 0n) {
        return refusal(
          {
            code: "spending_limit_reached",
            message: `Spending Limit Reached: This API key has reached its spending limit of $${formatUsd(key.spendLimit)}.`,
          },
          policy,
          input.model,
        );
      }
      if (reserve > remaining) {
        const affordable = affordableOutputTokens(remaining, promptTokens, 1, model, outputBound);
        const explicit = input.maxTokens !== undefined;
        if (explicit || affordable < minOutputTokens) {
          return refusal(
            {
              code: "spending_limit_reached",
              message:
                explicit && affordable > 0
                  ? `Spending Limit Reached: max_tokens ${input.maxTokens} could exceed this key's remaining budget; at most ${affordable} tokens fit.`
                  : `Spending Limit Reached: this request could exceed this key's remaining budget of $${formatUsd(remaining)}.`,
            },
            policy,
            input.model,
          );
        }
        outputBound = affordable;
        reserve = reservationCost({ promptTokens, outputTokens: outputBound }, model);
      }
    }
    const shadow = decision.shadowDenial;
    return {
      allowed: true as const,
      model: model.id,
      provider: decision.provider.id,
      outputBound,
      reservationUsd: key.spendLimit === null ? "0" : formatUsd(reserve),
      estimatedCostUsd: formatUsd(
        requestCost(
          { inputTokens: promptTokens, outputTokens: input.outputTokens ?? outputBound },
          model,
        ),
      ),
      spentUsd: formatUsd(spent),
      reservedUsd: formatUsd(reserved),
      remainingUsd:
        key.spendLimit === null ? null : formatUsd(key.spendLimit - spent - reserved - reserve),
      rateLimit: policy.rateLimit ?? null,
      shadowDenial: shadow
        ? {
            code: shadow.code,
            rule: denialRule(shadow, policy, input.model),
            message: shadow.message,
            status: denialStatus[shadow.code] ?? 400,
          }
        : null,
    };
  }),

  /** Requests a key's shadow policy would have refused, by code and rule, over the last hours. */
  shadowReport: projectProcedure(
    "viewer",
    z.strictObject({ keyId: idSchema, hours: z.number().int().min(1).max(720).default(24) }),
    keyOfInput,
  ).query(async ({ ctx, input }) => {
    const key = ctx.target;
    const to = ctx.now();
    const from = new Date(to.getTime() - input.hours * 3600_000);
    const policy = (key.policy ?? {}) as KeyPolicy;
    const rows = await shadowDenialCounts(ctx.db, { keyId: key.id, from, to });
    const byRule = new Map<string, { code: string; rule: string; count: number }>();
    for (const r of rows) {
      const rule = denialRule({ code: r.code }, policy, r.model);
      const id = `${r.code}|${rule}`;
      const entry = byRule.get(id) ?? { code: r.code, rule, count: 0 };
      entry.count += r.count;
      byRule.set(id, entry);
    }
    const items = [...byRule.values()].sort((a, b) => b.count - a.count);
    return {
      from,
      to,
      mode: policy.mode ?? "enforce",
      total: items.reduce((n, i) => n + i.count, 0),
      items,
    };
  }),
});
