import { keyStatus } from "./key-status.ts";
import { formatUsd } from "./money.ts";
import { type KeyPolicy, policyPriceLimits } from "./schemas.ts";
import type {
  BudgetPeriod,
  Catalog,
  CatalogModel,
  CatalogProvider,
  Denial,
  DenialCode,
  EvaluateRequest,
} from "./types.ts";

export type {
  Catalog,
  CatalogModel,
  CatalogProvider,
  Denial,
  DenialCode,
  EvaluateRequest,
} from "./types.ts";
export { DenialCodes } from "./types.ts";

export type EvaluateKey = {
  enabled: boolean;
  limitReached: boolean;
  revokedAt: Date | null;
  expiresAt: Date | null;
  // No policy means full access (contract: new keys can use every active model).
  policy?: KeyPolicy | null;
  // Only to name the limit in the "Spending Limit Reached" message.
  spendLimitNanos?: bigint | null;
  budgetPeriod?: BudgetPeriod;
};

export type Decision =
  | { allowed: true; model: CatalogModel; provider: CatalogProvider; shadowDenial?: Denial }
  | { allowed: false; denial: Denial };

// The rules shadow mode may turn into a logged would-be denial. Key state, an unknown model
// and budgets are facts about the key or the catalog, not policy, so they always deny.
export const ShadowableCodes: ReadonlySet<DenialCode> = new Set<DenialCode>([
  "model_not_allowed",
  "provider_blocked",
  "tier_not_allowed",
  "price_limit_exceeded",
  "max_tokens_exceeded",
]);

// A client-supplied name is echoed into the message; bound it so a huge `model` string cannot
// inflate every error body and log line.
const MAX_ECHOED_LENGTH = 200;

function echo(value: string): string {
  return value.length <= MAX_ECHOED_LENGTH ? value : value.slice(0, MAX_ECHOED_LENGTH) + "…";
}

export function matchesModelPattern(pattern: string, modelId: string): boolean {
  return pattern.endsWith("*") ? modelId.startsWith(pattern.slice(0, -1)) : modelId === pattern;
}

function keyStateDenial(key: EvaluateKey, now: Date): Denial | undefined {
  // The displayed status's precedence; a reached limit is refused later, after the policy rules.
  switch (keyStatus(key, now)) {
    case "revoked":
      return {
        code: "invalid_api_key",
        message: "Invalid API Key: This API key has been revoked.",
      };
    case "expired": {
      const expiry = key.expiresAt?.getTime() ?? Number.NaN;
      const at = Number.isNaN(expiry) ? "" : ` at ${new Date(expiry).toISOString()}`;
      return { code: "key_expired", message: `Key Expired: This API key expired${at}.` };
    }
    case "inactive":
      return { code: "key_inactive", message: "Key Inactive: This API key has been disabled." };
    default:
      return undefined;
  }
}

/**
 * The policy rules alone (model, provider, tier, price, max tokens), in contract order, for a
 * model that exists. Also what `GET /v1/models` needs to list the models a key may use.
 */
export function policyDenial(
  policy: KeyPolicy | null | undefined,
  request: EvaluateRequest,
  model: CatalogModel,
  provider: CatalogProvider,
): Denial | undefined {
  if (!policy) return undefined;

  const models = policy.models;
  if (models?.block?.some((pattern) => matchesModelPattern(pattern, model.id))) {
    return {
      code: "model_not_allowed",
      message: `Policy Violation: The requested model (${model.id}) is blocked for this API key.`,
      param: "model",
    };
  }
  if (models?.allow && !models.allow.some((pattern) => matchesModelPattern(pattern, model.id))) {
    return {
      code: "model_not_allowed",
      message: `Policy Violation: The requested model (${model.id}) is not authorized for this API key.`,
      param: "model",
    };
  }

  const providers = policy.providers;
  if (providers?.block?.includes(provider.id)) {
    return {
      code: "provider_blocked",
      message: `Policy Violation: The provider (${provider.id}) of model ${model.id} is blocked for this API key.`,
      param: "model",
    };
  }
  if (providers?.allow && !providers.allow.includes(provider.id)) {
    return {
      code: "provider_blocked",
      message: `Policy Violation: The provider (${provider.id}) of model ${model.id} is not approved for this API key.`,
      param: "model",
    };
  }

  if (policy.tiers && !policy.tiers.includes(model.tier)) {
    return {
      code: "tier_not_allowed",
      message: `Policy Violation: The pricing tier (${model.tier}) of model ${model.id} is not allowed for this API key.`,
      param: "model",
    };
  }

  const limits = policyPriceLimits(policy);
  if (limits.inputPer1M !== undefined && model.inputPer1M > limits.inputPer1M) {
    return priceDenial(model, "input", model.inputPer1M, limits.inputPer1M);
  }
  if (limits.outputPer1M !== undefined && model.outputPer1M > limits.outputPer1M) {
    return priceDenial(model, "output", model.outputPer1M, limits.outputPer1M);
  }

  const maxTokens = policy.maxTokensPerRequest;
  if (
    maxTokens !== undefined &&
    request.maxOutputTokens !== undefined &&
    request.maxOutputTokens > maxTokens
  ) {
    const param = request.maxOutputTokensParam ?? "max_tokens";
    return {
      code: "max_tokens_exceeded",
      message: `${param} (${request.maxOutputTokens}) exceeds this key's maximum of ${maxTokens} tokens per request.`,
      param,
    };
  }

  return undefined;
}

function priceDenial(
  model: CatalogModel,
  direction: "input" | "output",
  price: bigint,
  limit: bigint,
): Denial {
  return {
    code: "price_limit_exceeded",
    message: `Policy Violation: The model ${model.id} costs $${formatUsd(price)} per 1M ${direction} tokens, above this key's limit of $${formatUsd(limit)}.`,
    param: "model",
  };
}

const PERIOD_ADJECTIVE: Record<BudgetPeriod, string> = {
  none: "",
  daily: "daily ",
  weekly: "weekly ",
  monthly: "monthly ",
};

function spendingLimitDenial(key: EvaluateKey): Denial {
  const period = PERIOD_ADJECTIVE[key.budgetPeriod ?? "none"] ?? "";
  const limit =
    key.spendLimitNanos === undefined || key.spendLimitNanos === null
      ? ""
      : ` of $${formatUsd(key.spendLimitNanos)}`;
  return {
    code: "spending_limit_reached",
    message: `Spending Limit Reached: This API key has reached its ${period}spending limit${limit}.`,
  };
}

/**
 * Decides whether `key` may call `request.model` at `now`. Pure and total: every outcome is a
 * value. Contract order, the first failing rule decides: key state → model exists → model
 * allow/block → provider allow/block → tier → price limits → max tokens → budget. Rate limits
 * and the reservation happen later in Redis; the budget here is only the `limitReached` flag.
 *
 * In shadow mode a failing policy rule is reported as `shadowDenial` on an allowed decision;
 * key state, an unknown model and the budget are never shadowed, so a key that reached its
 * limit is refused even when a (shadowed) policy rule failed before it.
 */
export function evaluate(
  request: EvaluateRequest,
  key: EvaluateKey,
  catalog: Catalog,
  now: Date,
): Decision {
  const keyDenial = keyStateDenial(key, now);
  if (keyDenial) return { allowed: false, denial: keyDenial };

  const model = catalog.models.get(request.model);
  const provider = model?.active ? catalog.providers.get(model.providerId) : undefined;
  // A model whose provider is gone or switched off cannot be routed: to the client it does
  // not exist, just like an inactive model.
  if (!model || !provider || provider.active === false) {
    return {
      allowed: false,
      denial: {
        code: "model_not_found",
        message: `The model (${echo(request.model)}) does not exist or is not active in this project.`,
        param: "model",
      },
    };
  }

  const policy = key.policy;
  const ruleDenial = policyDenial(policy, request, model, provider);
  // Anything but an explicit "shadow" enforces: an unknown mode must not open the gate.
  if (ruleDenial && policy?.mode !== "shadow") return { allowed: false, denial: ruleDenial };

  if (key.limitReached) return { allowed: false, denial: spendingLimitDenial(key) };

  return ruleDenial
    ? { allowed: true, model, provider, shadowDenial: ruleDenial }
    : { allowed: true, model, provider };
}
