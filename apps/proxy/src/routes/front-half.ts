import { type EvaluateKey, evaluate } from "@osm/policy/evaluate";
import type { CachedKey } from "../cache/key-cache.ts";
import { GatewayError } from "../errors.ts";
import type {
  AdmittedRequest,
  Operation,
  OperationFields,
  OperationHandler,
} from "../providers/adapter.ts";
import { adapters } from "../providers/registry.ts";
import { recordedModel } from "../request-fields.ts";
import type { Route } from "./route.ts";

/** What a route read from the client's body, for the front half to judge and admit. */
export type ParsedRequest<O extends Operation> = {
  operation: O;
  body: Record<string, unknown>;
  fields: OperationFields[O];
  model: string;
  stream: boolean;
  /** The prompt's token bound: computed once, carried on the admitted request. */
  promptTokens: number;
  /** The output the client bounded, or null for an operation that produces no output tokens. */
  output: {
    explicit: number | undefined;
    param: "max_tokens" | "max_completion_tokens" | "max_output_tokens" | undefined;
    n: number;
  } | null;
};

/**
 * The key as the policy judges it. The limit flag is judged by admission, after the rate limits
 * (the contract's order). Built field by field, not as `{ ...key, … }`: V8 (Node 20) adds each
 * new property to a spread copy on a slow path, ~0.5 µs apiece on every request
 * (docs/performance.md, "Slow paths of V8").
 */
function policyView(key: CachedKey): EvaluateKey {
  return {
    enabled: key.enabled,
    limitReached: false,
    revokedAt: key.revokedAt,
    expiresAt: key.expiresAt,
    policy: key.policy,
    spendLimitNanos: key.spendLimit,
    budgetPeriod: key.budgetPeriod,
  };
}

const operationNames: Record<Operation, string> = {
  chat: "chat completions",
  embeddings: "embeddings",
  responses: "the Responses API",
};

/**
 * The front half of every gateway route: policy decision, catalog lookup, the provider kind's
 * handler, and admission (rate limits and budget reservation). Refusals throw a GatewayError
 * before any upstream call; what is decided lands on the request record either way.
 */
export async function admitRequest<O extends Operation>(
  route: Route,
  parsed: ParsedRequest<O>,
): Promise<{ request: AdmittedRequest<OperationFields[O]>; handler: OperationHandler<O> }> {
  const { deps, record } = route;
  record.model = recordedModel(parsed.model);
  record.stream = parsed.stream;
  const catalog = await deps.catalogs.get(record.key.projectId);
  const decision = evaluate(
    parsed.output
      ? {
          model: parsed.model,
          maxOutputTokens: parsed.output.explicit,
          maxOutputTokensParam: parsed.output.param,
        }
      : { model: parsed.model },
    policyView(record.key),
    catalog,
    deps.now(),
  );
  if (!decision.allowed) {
    throw new GatewayError(decision.denial.code, decision.denial.message, {
      param: decision.denial.param ?? null,
    });
  }
  if (decision.shadowDenial) {
    const { code, message } = decision.shadowDenial;
    // The message echoes the client's model name: masked and bounded like the model itself.
    record.shadowDenial = { code, message: recordedModel(message).slice(0, 1000) };
    deps.log.info(
      { requestId: record.requestId, keyId: record.key.id, wouldDeny: decision.shadowDenial.code },
      "shadow policy denial",
    );
  }
  // evaluate() allowed it, so both exist in this catalog.
  const model = catalog.models.get(parsed.model)!;
  const provider = catalog.providers.get(model.providerId)!;
  record.provider = provider.id;
  route.trace?.routed(provider.kind, model.upstreamModel);
  const handler = adapters[provider.kind][parsed.operation] as OperationHandler<O> | undefined;
  if (!handler) {
    throw new GatewayError(
      "invalid_request",
      `The model ${parsed.model} does not support ${operationNames[parsed.operation]}.`,
      { param: "model" },
    );
  }
  // The client's bound if given; otherwise the model's and the key's ceilings, clamped to what
  // the remaining budget affords.
  const defaultOutput = parsed.output
    ? Math.min(
        model.maxOutputTokens,
        record.key.policy.maxTokensPerRequest ?? Number.MAX_SAFE_INTEGER,
      )
    : 0;
  const admission = await deps.admission.admit({
    key: record.key,
    requestId: record.requestId,
    prices: model,
    promptTokens: parsed.promptTokens,
    explicitOutput: parsed.output?.explicit,
    outputParam: parsed.output?.param,
    defaultOutput,
    n: parsed.output?.n ?? 1,
    now: record.admittedAt,
  });
  record.admission = admission;
  record.reserved = admission?.reserved ?? 0n;
  record.upstreamSentAt = process.hrtime.bigint();
  deps.metrics.overhead.observe(Number(record.upstreamSentAt - record.startedAt) / 1e9);
  return {
    request: {
      // Route's fields listed, not spread: see policyView.
      deps,
      record,
      req: route.req,
      res: route.res,
      signal: route.signal,
      trace: route.trace,
      complete: route.complete,
      body: parsed.body,
      fields: parsed.fields,
      model,
      provider,
      promptTokens: parsed.promptTokens,
      outputBound: admission?.outputBound ?? parsed.output?.explicit ?? defaultOutput,
    },
    handler,
  };
}
