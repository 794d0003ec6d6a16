import type { IncomingMessage, ServerResponse } from "node:http";
import { promptTokenBound } from "@osm/policy/pricing";
import type { GatewayDeps } from "../deps.ts";
import { GatewayError } from "../errors.ts";
import {
  createAnthropicStreamTranslator,
  fromAnthropicResponse,
  toAnthropicRequest,
} from "../providers/anthropic.ts";
import type { TokenUsage } from "../providers/anthropic-contract.ts";
import { readAll } from "../providers/upstream-call.ts";
import {
  type ChatFields,
  chatFields,
  endUserField,
  parseJsonBody,
  recordedModel,
} from "../request-fields.ts";
import { chatCachedTokens } from "../responses/usage.ts";
import type { RequestRecord } from "../usage/request-record.ts";
import {
  type Admitted,
  admitModel,
  callAnthropic,
  callOpenAi,
  charge,
  relayStream,
  sendJson,
  withPromptBound,
} from "./front-half.ts";

export type Route = {
  deps: GatewayDeps;
  record: RequestRecord;
  req: IncomingMessage;
  res: ServerResponse;
  signal: AbortSignal;
  /** Settles and records the request; awaited before the response's last byte. */
  complete(): Promise<void>;
};

type Target = Admitted & { body: Record<string, unknown>; fields: ChatFields };

export async function chatCompletions(route: Route, rawBody: Buffer): Promise<void> {
  const { record } = route;
  const body = parseJsonBody(rawBody);
  const fields = chatFields(body);
  record.model = recordedModel(fields.model);
  record.stream = fields.stream;
  record.endUser = endUserField(body);
  const admitted = await admitModel(route, {
    model: fields.model,
    maxOutputTokens: fields.maxOutputTokens,
    maxOutputTokensParam: fields.maxOutputTokensParam,
    n: fields.n,
    promptTokens: () => promptTokenBound(body as never),
  });
  const target: Target = { ...admitted, body, fields };
  if (target.provider.kind === "openai") await forwardOpenAi(route, target);
  else await forwardAnthropic(route, target);
}

type OpenAiAnswer = {
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown; prompt_tokens_details?: unknown };
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

async function forwardOpenAi(route: Route, target: Target) {
  const { record, signal } = route;
  const { fields, model, provider } = target;
  const upstreamBody: Record<string, unknown> = { ...target.body, model: model.upstreamModel };
  if (fields.maxOutputTokens === undefined) upstreamBody[model.tokenParam] = target.outputBound;
  // Usage is always asked for so streamed calls are charged; stripped below if the client did not ask.
  if (fields.stream)
    upstreamBody.stream_options = {
      ...(target.body.stream_options as object | undefined),
      include_usage: true,
    };
  const upstream = await callOpenAi(route, provider, {
    method: "POST",
    path: "/chat/completions",
    body: upstreamBody,
    stream: fields.stream,
  });

  if (!fields.stream) {
    const buffer = await readAll(upstream.body, undefined, signal);
    let answer: OpenAiAnswer;
    try {
      answer = JSON.parse(buffer.toString("utf8")) as OpenAiAnswer;
    } catch {
      throw new GatewayError("upstream_error", "The provider's answer was not valid JSON.");
    }
    const usage = answer.usage;
    charge(record, model, {
      inputTokens:
        typeof usage?.prompt_tokens === "number" ? usage.prompt_tokens : target.promptTokens,
      outputTokens:
        typeof usage?.completion_tokens === "number"
          ? usage.completion_tokens
          : answerBytes(answer),
      cachedInputTokens: chatCachedTokens(usage),
    });
    await sendJson(route, buffer);
    return;
  }

  let reportedUsage: TokenUsage | null = null;
  let countedOutput = 0;
  let sawDone = false;
  await relayStream(route, upstream, {
    async onEvent(event, client) {
      if (event.data === null) return;
      if (event.data === "[DONE]") {
        sawDone = true;
        await client.write(event.raw);
        return;
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
            inputTokens: parsed.usage.prompt_tokens ?? 0,
            outputTokens: parsed.usage.completion_tokens ?? 0,
            cachedInputTokens: chatCachedTokens(parsed.usage),
          };
          if (!fields.includeUsage && (parsed.choices?.length ?? 0) === 0) keep = false;
        }
      } catch {
        // Not JSON: pass it through untouched, it is the provider's to explain.
      }
      if (keep) await client.write(event.raw);
    },
    account: () =>
      charge(
        record,
        model,
        reportedUsage ?? { inputTokens: target.promptTokens, outputTokens: countedOutput },
      ),
    finished: () => sawDone,
  });
}

async function forwardAnthropic(route: Route, target: Target) {
  const { record, signal } = route;
  const { fields, model, provider } = target;
  const translated = toAnthropicRequest(target.body, {
    upstreamModel: model.upstreamModel,
    maxTokens: target.outputBound,
    stream: fields.stream,
  });
  if (!translated.ok)
    throw new GatewayError("invalid_request", translated.message, { param: translated.param });
  const upstream = await callAnthropic(route, provider, translated.body, fields.stream);

  if (!fields.stream) {
    const buffer = await readAll(upstream.body, undefined, signal);
    let answer: ReturnType<typeof fromAnthropicResponse>;
    try {
      answer = fromAnthropicResponse(JSON.parse(buffer.toString("utf8")), fields.model);
    } catch {
      throw new GatewayError("upstream_error", "The provider's answer could not be read.");
    }
    charge(record, model, withPromptBound(answer.usage, target.promptTokens));
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

  const translator = createAnthropicStreamTranslator(fields.model, {
    includeUsage: fields.includeUsage,
  });
  await relayStream(route, upstream, {
    async onEvent(event, client) {
      for (const payload of translator.onEvent(event)) await client.writeData(payload);
    },
    account: () => charge(record, model, withPromptBound(translator.usage(), target.promptTokens)),
    finished: () => translator.finished(),
  });
}
