import { evaluate } from "@osm/policy/evaluate";
import { formatUsd } from "@osm/policy/money";
import { requestCost } from "@osm/policy/pricing";
import type { RoutableModel, RoutableProvider } from "../cache/catalog-cache.ts";
import { GatewayError } from "../errors.ts";
import { anthropicErrorMessage } from "../providers/anthropic.ts";
import type { TokenUsage } from "../providers/anthropic-contract.ts";
import {
  callUpstream,
  readAll,
  type UpstreamResponse,
  upstreamFailure,
  upstreamStatusError,
} from "../providers/upstream-call.ts";
import { ClientStream } from "../streaming/client-stream.ts";
import { type SseEvent, SseParser } from "../streaming/sse-parser.ts";
import type { RequestRecord } from "../usage/request-record.ts";
import type { Route } from "./chat-completions.ts";

/*
 * What the generating routes (chat completions, responses) share around their own wire format:
 * policy evaluation, catalog lookup and the budget reservation before forwarding, the upstream
 * call per provider kind, and charging and answering after.
 */

export type AdmitRequest = {
  model: string;
  /** The client's explicit output bound, never lowered silently. */
  maxOutputTokens: number | undefined;
  maxOutputTokensParam: "max_tokens" | "max_completion_tokens" | "max_output_tokens" | undefined;
  n: number;
  /** The prompt's worst case; may depend on the provider the model routes to. */
  promptTokens: (provider: RoutableProvider) => number | Promise<number>;
};

export type Admitted = {
  model: RoutableModel;
  provider: RoutableProvider;
  promptTokens: number;
  /** The output bound the upstream gets. */
  outputBound: number;
};

/** Evaluate → catalog → admit: a refusal throws before anything reaches a provider. */
export async function admitModel(route: Route, request: AdmitRequest): Promise<Admitted> {
  const { deps, record } = route;
  const catalog = await deps.catalogs.get(record.key.projectId);
  const decision = evaluate(
    {
      model: request.model,
      maxOutputTokens: request.maxOutputTokens,
      maxOutputTokensParam: request.maxOutputTokensParam,
    },
    // The limit flag is judged by admission, after the rate limits (the contract's order).
    { ...record.key, limitReached: false, spendLimitNanos: record.key.spendLimit },
    catalog,
    deps.now(),
  );
  if (!decision.allowed) {
    throw new GatewayError(decision.denial.code, decision.denial.message, {
      param: decision.denial.param ?? null,
    });
  }
  if (decision.shadowDenial) {
    deps.log.info(
      { requestId: record.requestId, keyId: record.key.id, wouldDeny: decision.shadowDenial.code },
      "shadow policy denial",
    );
  }
  const model = catalog.models.get(request.model)!;
  const provider = catalog.providers.get(model.providerId)!;
  record.provider = provider.id;
  const promptTokens = await request.promptTokens(provider);
  // The client's bound if given; otherwise the model's and the key's ceilings, clamped to what
  // the remaining budget affords.
  const defaultOutput = Math.min(
    model.maxOutputTokens,
    record.key.policy.maxTokensPerRequest ?? Number.MAX_SAFE_INTEGER,
  );
  const admission = await deps.admission.admit({
    key: record.key,
    requestId: record.requestId,
    prices: model,
    promptTokens,
    explicitOutput: request.maxOutputTokens,
    outputParam: request.maxOutputTokensParam,
    defaultOutput,
    n: request.n,
    now: record.admittedAt,
  });
  record.admission = admission;
  record.reserved = admission?.reserved ?? 0n;
  const outputBound = admission?.outputBound ?? request.maxOutputTokens ?? defaultOutput;
  deps.metrics.overhead.observe(Number(process.hrtime.bigint() - record.startedAt) / 1e9);
  return { model, provider, promptTokens, outputBound };
}

/** A translation's usage with the prompt bound standing in when the provider reported none. */
export function withPromptBound(usage: TokenUsage, promptTokens: number): TokenUsage {
  return usage.inputTokens === 0 ? { ...usage, inputTokens: promptTokens } : usage;
}

export function charge(record: RequestRecord, model: RoutableModel, usage: TokenUsage) {
  record.inputTokens = usage.inputTokens;
  record.outputTokens = usage.outputTokens;
  record.cost = requestCost(usage, model);
}

export async function sendJson(route: Route, body: Buffer | string) {
  await route.complete();
  route.res.writeHead(200, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "x-request-id": route.record.requestId,
    "x-osm-cost-usd": formatUsd(route.record.cost),
  });
  route.res.end(body);
}

export const openAiErrorMessage = (json: unknown) => {
  const message = (json as { error?: { message?: unknown } } | null)?.error?.message;
  return typeof message === "string" ? message : null;
};

export async function failFromStatus(
  upstream: UpstreamResponse,
  provider: RoutableProvider,
  signal: AbortSignal,
  extract: (json: unknown) => string | null,
) {
  const text = (await readAll(upstream.body, 1024 * 1024, signal)).toString("utf8");
  let message: string | null = null;
  try {
    message = extract(JSON.parse(text));
  } catch {
    message = null;
  }
  return upstreamStatusError(upstream.status, upstream.headers, message, [provider.apiKey]);
}

/** A call to an OpenAI-kind provider; an error status is thrown in the contract's terms. */
export async function callOpenAi(
  route: Route,
  provider: RoutableProvider,
  request: { method: "POST" | "GET" | "DELETE"; path: string; body?: unknown; stream?: boolean },
): Promise<UpstreamResponse> {
  const { deps, signal } = route;
  const upstream = await callUpstream(deps.agent, `${provider.baseUrl}${request.path}`, {
    method: request.method,
    headers: {
      authorization: `Bearer ${provider.apiKey}`,
      ...(request.body === undefined ? {} : { "content-type": "application/json" }),
      accept: request.stream ? "text/event-stream" : "application/json",
    },
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
    signal,
    allowPrivate: deps.config.allowPrivateUpstreams,
  });
  if (upstream.status >= 400)
    throw await failFromStatus(upstream, provider, signal, openAiErrorMessage);
  return upstream;
}

/** A Messages call to an Anthropic-kind provider with an already translated body. */
export async function callAnthropic(
  route: Route,
  provider: RoutableProvider,
  body: Record<string, unknown>,
  stream: boolean,
): Promise<UpstreamResponse> {
  const { deps, signal } = route;
  const upstream = await callUpstream(deps.agent, `${provider.baseUrl}/v1/messages`, {
    method: "POST",
    headers: {
      "x-api-key": provider.apiKey,
      "anthropic-version": "2023-06-01",
      "content-type": "application/json",
      accept: stream ? "text/event-stream" : "application/json",
    },
    body: JSON.stringify(body),
    signal,
    allowPrivate: deps.config.allowPrivateUpstreams,
  });
  if (upstream.status >= 400)
    throw await failFromStatus(upstream, provider, signal, anthropicErrorMessage);
  return upstream;
}

export type StreamRelay = {
  /** Handles one upstream event, writing what the client gets for it. */
  onEvent(event: SseEvent, client: ClientStream): Promise<void>;
  /** Sets the request's charge from what the stream showed so far; called on every ending. */
  account(): void;
  /** True once the upstream's terminal event arrived. */
  finished(): boolean;
  /** Runs once a complete stream has been settled, before the response's last byte. */
  beforeEnd?(client: ClientStream): Promise<void>;
};

/**
 * Relays an upstream SSE stream to the client. However it ends (done, cut short, client gone,
 * key revoked), the request is charged what was produced and settled before the last byte.
 */
export async function relayStream(route: Route, upstream: UpstreamResponse, relay: StreamRelay) {
  const { record, signal } = route;
  const client = new ClientStream(route.res, record.requestId);
  const parser = new SseParser();
  try {
    client.start();
    for await (const chunk of upstream.body) {
      for (const event of parser.push(chunk as Buffer)) await relay.onEvent(event, client);
    }
    for (const event of parser.end()) await relay.onEvent(event, client);
    relay.account();
    if (!relay.finished())
      throw new GatewayError("upstream_error", "The provider ended the stream early.");
    await route.complete();
    await relay.beforeEnd?.(client);
    client.end();
  } catch (err) {
    relay.account();
    // A plain error is a translation refusing a malformed event; transport errors carry a code.
    const failure =
      err instanceof Error &&
      !(err instanceof GatewayError) &&
      !signal.aborted &&
      !(err as { code?: string }).code
        ? new GatewayError("upstream_error", `The provider failed mid-stream: ${err.message}`)
        : upstreamFailure(err, signal);
    record.fail(failure);
    await route.complete();
    client.fail(failure);
  }
}
