import { evaluate } from "@osm/policy/evaluate";
import { formatUsd } from "@osm/policy/money";
import { promptTokenBound, requestCost } from "@osm/policy/pricing";
import { GatewayError } from "../errors.ts";
import { callUpstream, readAll, upstreamStatusError } from "../providers/upstream-call.ts";
import { embeddingFields, parseJsonBody, recordedModel } from "../request-fields.ts";
import type { Route } from "./chat-completions.ts";

export async function embeddings(route: Route, rawBody: Buffer): Promise<void> {
  const { deps, record, res, signal } = route;
  const body = parseJsonBody(rawBody);
  const fields = embeddingFields(body);
  record.model = recordedModel(fields.model);
  const catalog = await deps.catalogs.get(record.key.projectId);
  const decision = evaluate(
    { model: fields.model },
    // The limit flag is judged by admission, after the rate limits (the contract's order).
    { ...record.key, limitReached: false, spendLimitNanos: record.key.spendLimit },
    catalog,
    deps.now(),
  );
  if (!decision.allowed)
    throw new GatewayError(decision.denial.code, decision.denial.message, {
      param: decision.denial.param ?? null,
    });
  const model = catalog.models.get(fields.model)!;
  const provider = catalog.providers.get(model.providerId)!;
  record.provider = provider.id;
  if (provider.kind !== "openai") {
    throw new GatewayError(
      "invalid_request",
      `The model ${fields.model} does not support embeddings.`,
      { param: "model" },
    );
  }
  const admission = await deps.admission.admit({
    key: record.key,
    requestId: record.requestId,
    prices: model,
    promptTokens: promptTokenBound({ input: fields.input }),
    explicitOutput: undefined,
    defaultOutput: 0,
    n: 1,
    now: record.admittedAt,
  });
  record.admission = admission;
  record.reserved = admission?.reserved ?? 0n;
  record.upstreamSentAt = process.hrtime.bigint();
  const upstream = await callUpstream(deps.agent, `${provider.baseUrl}/embeddings`, {
    method: "POST",
    headers: { authorization: `Bearer ${provider.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ ...body, model: model.upstreamModel }),
    signal,
    allowPrivate: deps.config.allowPrivateUpstreams,
  });
  const buffer = await readAll(upstream.body, undefined, signal);
  if (upstream.status >= 400) {
    let message: string | null = null;
    try {
      message =
        (JSON.parse(buffer.toString("utf8")) as { error?: { message?: string } }).error?.message ??
        null;
    } catch {}
    throw upstreamStatusError(upstream.status, upstream.headers, message, [provider.apiKey]);
  }
  let promptTokens: number;
  try {
    const usage = (JSON.parse(buffer.toString("utf8")) as { usage?: { prompt_tokens?: number } })
      .usage;
    promptTokens = usage?.prompt_tokens ?? promptTokenBound({ input: fields.input });
  } catch {
    throw new GatewayError("upstream_error", "The provider's answer was not valid JSON.");
  }
  record.inputTokens = promptTokens;
  record.cost = requestCost({ inputTokens: promptTokens, outputTokens: 0 }, model);
  await route.complete();
  res.writeHead(200, {
    "Content-Type": "application/json",
    "Content-Length": buffer.length,
    "x-request-id": record.requestId,
    "x-osm-cost-usd": formatUsd(record.cost),
  });
  res.end(buffer);
}
