import type { IncomingMessage, ServerResponse } from "node:http";
import { evaluate } from "@osm/policy/evaluate";
import { formatUsd } from "@osm/policy/money";
import { promptTokenBound, requestCost } from "@osm/policy/pricing";
import type { ProjectCatalog, RoutableModel, RoutableProvider } from "../cache/catalog-cache.ts";
import type { GatewayDeps } from "../deps.ts";
import { GatewayError } from "../errors.ts";
import {
  anthropicErrorMessage,
  createAnthropicStreamTranslator,
  fromAnthropicResponse,
  toAnthropicRequest,
} from "../providers/anthropic.ts";
import {
  callUpstream,
  readAll,
  type UpstreamResponse,
  upstreamFailure,
  upstreamStatusError,
} from "../providers/upstream-call.ts";
import { type ChatFields, chatFields, parseJsonBody, recordedModel } from "../request-fields.ts";
import { ClientStream } from "../streaming/client-stream.ts";
import { SseParser } from "../streaming/sse-parser.ts";
import type { RequestRecord } from "../usage/request-record.ts";

export type Route = {
  deps: GatewayDeps;
  record: RequestRecord;
  req: IncomingMessage;
  res: ServerResponse;
  signal: AbortSignal;
  /** Settles and records the request; awaited before the response's last byte. */
  complete(): Promise<void>;
};

type Target = {
  body: Record<string, unknown>;
  fields: ChatFields;
  model: RoutableModel;
  provider: RoutableProvider;
  outputBound: number;
};

export async function chatCompletions(route: Route, rawBody: Buffer): Promise<void> {
  const { deps, record } = route;
  const body = parseJsonBody(rawBody);
  const fields = chatFields(body);
  record.model = recordedModel(fields.model);
  record.stream = fields.stream;
  const catalog: ProjectCatalog = await deps.catalogs.get(record.key.projectId);
  const decision = evaluate(
    {
      model: fields.model,
      maxOutputTokens: fields.maxOutputTokens,
      maxOutputTokensParam: fields.maxOutputTokensParam,
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
  const model = catalog.models.get(fields.model)!;
  const provider = catalog.providers.get(model.providerId)!;
  record.provider = provider.id;
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
    promptTokens: promptTokenBound(body as never),
    explicitOutput: fields.maxOutputTokens,
    defaultOutput,
    n: fields.n,
    now: record.admittedAt,
  });
  record.admission = admission;
  record.reserved = admission?.reserved ?? 0n;
  const outputBound = admission?.outputBound ?? fields.maxOutputTokens ?? defaultOutput;
  const target: Target = { body, fields, model, provider, outputBound };
  record.upstreamSentAt = process.hrtime.bigint();
  deps.metrics.overhead.observe(Number(record.upstreamSentAt - record.startedAt) / 1e9);
  if (provider.kind === "openai") await forwardOpenAi(route, target);
  else await forwardAnthropic(route, target);
}

function charge(record: RequestRecord, target: Target, inputTokens: number, outputTokens: number) {
  record.inputTokens = inputTokens;
  record.outputTokens = outputTokens;
  record.cost = requestCost({ inputTokens, outputTokens }, target.model);
}

async function sendJson(route: Route, body: Buffer | string) {
  await route.complete();
  route.res.writeHead(200, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "x-request-id": route.record.requestId,
    "x-osm-cost-usd": formatUsd(route.record.cost),
  });
  route.res.end(body);
}

async function failFromStatus(
  upstream: UpstreamResponse,
  target: Target,
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
  return upstreamStatusError(upstream.status, upstream.headers, message, [target.provider.apiKey]);
}

type OpenAiAnswer = {
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
  choices?: {
    message?: { content?: unknown; tool_calls?: { function?: { arguments?: unknown } }[] };
  }[];
};

/**
 * Output tokens of an answer that came without usage: its UTF-8 bytes, an upper bound (no
 * tokenizer makes a token of less than one byte), so a missing usage never undercharges.
 */
function answerBytes(answer: OpenAiAnswer): number {
  let bytes = 0;
  for (const choice of answer.choices ?? []) {
    const content = choice.message?.content;
    if (typeof content === "string") bytes += Buffer.byteLength(content);
    for (const call of choice.message?.tool_calls ?? []) {
      const args = call.function?.arguments;
      if (typeof args === "string") bytes += Buffer.byteLength(args);
    }
  }
  return bytes;
}

const openAiErrorMessage = (json: unknown) => {
  const message = (json as { error?: { message?: unknown } } | null)?.error?.message;
  return typeof message === "string" ? message : null;
};

async function forwardOpenAi(route: Route, target: Target) {
  const { deps, record, signal } = route;
  const { fields, model, provider } = target;
  const upstreamBody: Record<string, unknown> = { ...target.body, model: model.upstreamModel };
  if (fields.maxOutputTokens === undefined) upstreamBody[model.tokenParam] = target.outputBound;
  // Usage is always asked for so streamed calls are charged; stripped below if the client did not ask.
  if (fields.stream)
    upstreamBody.stream_options = {
      ...(target.body.stream_options as object | undefined),
      include_usage: true,
    };
  const upstream = await callUpstream(deps.agent, `${provider.baseUrl}/chat/completions`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${provider.apiKey}`,
      "content-type": "application/json",
      accept: fields.stream ? "text/event-stream" : "application/json",
    },
    body: JSON.stringify(upstreamBody),
    signal,
    allowPrivate: deps.config.allowPrivateUpstreams,
  });
  if (upstream.status >= 400)
    throw await failFromStatus(upstream, target, signal, openAiErrorMessage);

  if (!fields.stream) {
    const buffer = await readAll(upstream.body, undefined, signal);
    let answer: OpenAiAnswer;
    try {
      answer = JSON.parse(buffer.toString("utf8")) as OpenAiAnswer;
    } catch {
      throw new GatewayError("upstream_error", "The provider's answer was not valid JSON.");
    }
    const usage = answer.usage;
    const input =
      typeof usage?.prompt_tokens === "number"
        ? usage.prompt_tokens
        : promptTokenBound(target.body as never);
    const output =
      typeof usage?.completion_tokens === "number" ? usage.completion_tokens : answerBytes(answer);
    charge(record, target, input, output);
    await sendJson(route, buffer);
    return;
  }

  const client = new ClientStream(route.res, record.requestId);
  const parser = new SseParser();
  let reportedUsage: { input: number; output: number } | null = null;
  let countedOutput = 0;
  let sawDone = false;
  const account = () =>
    charge(
      record,
      target,
      reportedUsage?.input ?? promptTokenBound(target.body as never),
      reportedUsage?.output ?? countedOutput,
    );
  try {
    client.start();
    for await (const chunk of upstream.body) {
      for (const event of parser.push(chunk as Buffer)) {
        if (event.data === null) continue;
        if (event.data === "[DONE]") {
          sawDone = true;
          await client.write(event.raw);
          continue;
        }
        let keep = true;
        try {
          const parsed = JSON.parse(event.data) as {
            choices?: { delta?: { content?: string | null; tool_calls?: unknown[] } }[];
            usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
          };
          for (const choice of parsed.choices ?? []) {
            if (choice.delta?.content || choice.delta?.tool_calls?.length) countedOutput++;
          }
          if (parsed.usage) {
            reportedUsage = {
              input: parsed.usage.prompt_tokens ?? 0,
              output: parsed.usage.completion_tokens ?? 0,
            };
            if (!fields.includeUsage && (parsed.choices?.length ?? 0) === 0) keep = false;
          }
        } catch {
          // Not JSON: pass it through untouched, it is the provider's to explain.
        }
        if (keep) await client.write(event.raw);
      }
    }
    for (const event of parser.end()) if (event.data !== null) await client.write(event.raw);
    account();
    if (!sawDone) throw new GatewayError("upstream_error", "The provider ended the stream early.");
    await route.complete();
    client.end();
  } catch (err) {
    account();
    const failure = upstreamFailure(err, signal);
    record.fail(failure);
    await route.complete();
    client.fail(failure);
  }
}

async function forwardAnthropic(route: Route, target: Target) {
  const { deps, record, signal } = route;
  const { fields, model, provider } = target;
  const translated = toAnthropicRequest(target.body, {
    upstreamModel: model.upstreamModel,
    maxTokens: target.outputBound,
    stream: fields.stream,
  });
  if (!translated.ok)
    throw new GatewayError("invalid_request", translated.message, { param: translated.param });
  const upstream = await callUpstream(deps.agent, `${provider.baseUrl}/v1/messages`, {
    method: "POST",
    headers: {
      "x-api-key": provider.apiKey,
      "anthropic-version": "2023-06-01",
      "content-type": "application/json",
      accept: fields.stream ? "text/event-stream" : "application/json",
    },
    body: JSON.stringify(translated.body),
    signal,
    allowPrivate: deps.config.allowPrivateUpstreams,
  });
  if (upstream.status >= 400)
    throw await failFromStatus(upstream, target, signal, anthropicErrorMessage);

  if (!fields.stream) {
    const buffer = await readAll(upstream.body, undefined, signal);
    let answer: ReturnType<typeof fromAnthropicResponse>;
    try {
      answer = fromAnthropicResponse(JSON.parse(buffer.toString("utf8")), fields.model);
    } catch {
      throw new GatewayError("upstream_error", "The provider's answer could not be read.");
    }
    charge(
      record,
      target,
      answer.usage.inputTokens || promptTokenBound(target.body as never),
      answer.usage.outputTokens,
    );
    // The client sees the usage it is charged for, also when the provider sent none.
    if (answer.usage.inputTokens === 0)
      answer.body.usage = {
        prompt_tokens: record.inputTokens,
        completion_tokens: record.outputTokens,
        total_tokens: record.inputTokens + record.outputTokens,
      };
    await sendJson(route, JSON.stringify(answer.body));
    return;
  }

  const client = new ClientStream(route.res, record.requestId);
  const parser = new SseParser();
  const translator = createAnthropicStreamTranslator(fields.model, {
    includeUsage: fields.includeUsage,
  });
  const account = () => {
    const usage = translator.usage();
    charge(
      record,
      target,
      usage.inputTokens || promptTokenBound(target.body as never),
      usage.outputTokens,
    );
  };
  try {
    client.start();
    for await (const chunk of upstream.body) {
      for (const event of parser.push(chunk as Buffer)) {
        for (const payload of translator.onEvent(event)) await client.writeData(payload);
      }
    }
    for (const event of parser.end())
      for (const payload of translator.onEvent(event)) await client.writeData(payload);
    account();
    if (!translator.finished())
      throw new GatewayError("upstream_error", "The provider ended the stream early.");
    await route.complete();
    client.end();
  } catch (err) {
    account();
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
