import { responsesPromptTokenBound } from "@osm/policy/pricing";
import type { RoutableProvider } from "../cache/catalog-cache.ts";
import { GatewayError } from "../errors.ts";
import {
  createAnthropicStreamTranslator,
  fromAnthropicResponse,
  toAnthropicRequest,
} from "../providers/anthropic.ts";
import type { TokenUsage } from "../providers/anthropic-contract.ts";
import { readAll } from "../providers/upstream-call.ts";
import { endUserField, parseJsonBody, recordedModel } from "../request-fields.ts";
import { type ResponsesFields, responsesFields } from "../responses/request-fields.ts";
import {
  chatCompletionToResponse,
  type ResponseUsageFigures,
  responseEcho,
} from "../responses/response-object.ts";
import {
  createResponsesStreamTranslator,
  encodeResponsesEvent,
} from "../responses/stream-translator.ts";
import { responsesToChatRequest } from "../responses/to-chat.ts";
import {
  outputDeltaTypes,
  responseOutputBytes,
  responseUsage,
  settledUsage,
  terminalEventTypes,
} from "../responses/usage.ts";
import type { Route } from "./chat-completions.ts";
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

/*
 * POST /v1/responses: the same key state, policy, reservation, rate limits, usage event and log
 * line as chat. OpenAI-kind providers get the body as sent (hosted tools and unknown fields
 * included); Anthropic-kind providers get it translated through the chat translation.
 */

type Target = Admitted & { body: Record<string, unknown>; fields: ResponsesFields };

export async function createResponse(route: Route, rawBody: Buffer): Promise<void> {
  const { record } = route;
  const body = parseJsonBody(rawBody);
  const fields = responsesFields(body);
  record.model = recordedModel(fields.model);
  record.stream = fields.stream;
  record.endUser = endUserField(body);
  const admitted = await admitModel(route, {
    model: fields.model,
    maxOutputTokens: fields.maxOutputTokens,
    maxOutputTokensParam: "max_output_tokens",
    n: 1,
    promptTokens: (provider) => promptBound(route, body, fields, provider),
  });
  const target: Target = { ...admitted, body, fields };
  if (target.provider.kind === "openai") await forwardNative(route, target);
  else await forwardTranslated(route, target);
}

/**
 * The prompt's worst case. A key with a spending limit must be able to reserve it, so context
 * the body does not show is refused, except a previous response this gateway forwarded for the
 * same project and provider: its recorded context size bounds what it adds.
 */
async function promptBound(
  route: Route,
  body: Record<string, unknown>,
  fields: ResponsesFields,
  provider: RoutableProvider,
): Promise<number> {
  const base = responsesPromptTokenBound(body);
  const { key } = route.record;
  if (key.spendLimit === null) return base;
  if (fields.unpriceable) {
    throw new GatewayError(
      "invalid_request",
      `${fields.unpriceable.what} cannot be priced before it is forwarded, so it is refused on keys with a spending limit.`,
      { param: fields.unpriceable.param },
    );
  }
  if (fields.previousResponseId === undefined || provider.kind !== "openai") return base;
  const previous = await route.deps.responses.find(fields.previousResponseId);
  if (!previous || previous.projectId !== key.projectId || previous.provider !== provider.id) {
    throw new GatewayError(
      "invalid_request",
      `previous_response_id ${fields.previousResponseId.slice(0, 100)} was not created through this gateway for this project and provider, so its context cannot be priced; keys with a spending limit can only continue such responses.`,
      { param: "previous_response_id" },
    );
  }
  return base + previous.contextTokens;
}

const figures = (usage: TokenUsage): ResponseUsageFigures => ({
  inputTokens: usage.inputTokens,
  cachedInputTokens: usage.cachedInputTokens ?? 0,
  outputTokens: usage.outputTokens,
});

/** Recorded so GET / DELETE / cancel reach this provider, and a continuation can be priced. */
async function remember(route: Route, target: Target, id: unknown, usage: TokenUsage) {
  if (typeof id !== "string" || id === "" || target.body["store"] === false) return;
  await route.deps.responses.record(id, {
    projectId: route.record.key.projectId,
    provider: target.provider.id,
    contextTokens: usage.inputTokens + usage.outputTokens,
  });
}

async function forwardNative(route: Route, target: Target) {
  const { record, signal } = route;
  const { fields, model, provider } = target;
  const upstreamBody: Record<string, unknown> = { ...target.body, model: model.upstreamModel };
  if (fields.maxOutputTokens === undefined) upstreamBody["max_output_tokens"] = target.outputBound;
  const upstream = await callOpenAi(route, provider, {
    method: "POST",
    path: "/responses",
    body: upstreamBody,
    stream: fields.stream,
  });
  // A background response runs after this request ends and the gateway never sees its usage:
  // it is charged the worst case it would have reserved.
  const worstCase = { inputTokens: target.promptTokens, outputTokens: target.outputBound };

  if (!fields.stream) {
    const buffer = await readAll(upstream.body, undefined, signal);
    let answer: unknown;
    try {
      answer = JSON.parse(buffer.toString("utf8"));
    } catch {
      throw new GatewayError("upstream_error", "The provider's answer was not valid JSON.");
    }
    const usage = fields.background
      ? worstCase
      : settledUsage(responseUsage(answer), {
          inputTokens: target.promptTokens,
          outputTokens: responseOutputBytes(answer),
        });
    charge(record, model, usage);
    await remember(route, target, (answer as { id?: unknown } | null)?.id, usage);
    await sendJson(route, buffer);
    return;
  }

  let responseId: unknown;
  let reported: ReturnType<typeof responseUsage> | null = null;
  let counted = 0;
  let charged: TokenUsage = worstCase;
  await relayStream(route, upstream, {
    async onEvent(event, client) {
      if (event.data !== null) {
        try {
          const data = JSON.parse(event.data) as { type?: unknown; response?: { id?: unknown } };
          const type = typeof data.type === "string" ? data.type : event.event;
          if (type === "response.created") responseId = data.response?.id;
          if (type && outputDeltaTypes.has(type)) counted++;
          if (type && terminalEventTypes.has(type)) reported = responseUsage(data.response);
        } catch {
          // Not JSON: passed through untouched, it is the provider's to explain.
        }
      }
      await client.write(event.raw);
    },
    account() {
      charged = fields.background
        ? worstCase
        : settledUsage(
            reported ?? { inputTokens: null, cachedInputTokens: 0, outputTokens: null },
            {
              inputTokens: target.promptTokens,
              outputTokens: counted,
            },
          );
      charge(record, model, charged);
    },
    finished: () => reported !== null,
    beforeEnd: () => remember(route, target, responseId, charged),
  });
}

async function forwardTranslated(route: Route, target: Target) {
  const { record, signal } = route;
  const { fields, model, provider } = target;
  const chat = responsesToChatRequest(target.body);
  if (!chat.ok) throw new GatewayError("invalid_request", chat.message, { param: chat.param });
  const translated = toAnthropicRequest(chat.body, {
    upstreamModel: model.upstreamModel,
    maxTokens: target.outputBound,
    stream: fields.stream,
  });
  if (!translated.ok) {
    throw new GatewayError("invalid_request", translated.message, { param: translated.param });
  }
  const upstream = await callAnthropic(route, provider, translated.body, fields.stream);
  const echo = responseEcho(target.body, fields.model, target.outputBound);

  if (!fields.stream) {
    const buffer = await readAll(upstream.body, undefined, signal);
    let answer: ReturnType<typeof fromAnthropicResponse>;
    try {
      answer = fromAnthropicResponse(JSON.parse(buffer.toString("utf8")), fields.model);
    } catch {
      throw new GatewayError("upstream_error", "The provider's answer could not be read.");
    }
    const usage = withPromptBound(answer.usage, target.promptTokens);
    charge(record, model, usage);
    await sendJson(
      route,
      JSON.stringify(chatCompletionToResponse(answer.body, echo, figures(usage))),
    );
    return;
  }

  const anthropic = createAnthropicStreamTranslator(fields.model, { includeUsage: false });
  const responses = createResponsesStreamTranslator(echo);
  let charged: TokenUsage = { inputTokens: target.promptTokens, outputTokens: 0 };
  await relayStream(route, upstream, {
    async onEvent(event, client) {
      for (const payload of anthropic.onEvent(event)) {
        for (const out of responses.onChunk(payload)) await client.write(encodeResponsesEvent(out));
      }
    },
    account() {
      charged = withPromptBound(anthropic.usage(), target.promptTokens);
      charge(record, model, charged);
    },
    finished: () => anthropic.finished(),
    async beforeEnd(client) {
      for (const out of responses.finish(figures(charged))) {
        await client.write(encodeResponsesEvent(out));
      }
    },
  });
}

const responseIdPattern = /^[A-Za-z0-9_-]{1,256}$/;

export type ResponseAction = "retrieve" | "delete" | "cancel";

/**
 * GET / DELETE /v1/responses/{id} and POST …/cancel, forwarded to the provider that created the
 * response, and only for the project whose key created it: others get the same 404 as an
 * unknown id, so a response's existence does not leak across projects.
 */
export async function forwardResponseAction(route: Route, action: ResponseAction, id: string) {
  const { deps, record, signal } = route;
  const notFound = () =>
    new GatewayError("not_found", `No response with id ${id.slice(0, 100)} in this project.`);
  if (!responseIdPattern.test(id)) throw notFound();
  const stored = await deps.responses.find(id);
  if (!stored || stored.projectId !== record.key.projectId) throw notFound();
  const catalog = await deps.catalogs.get(record.key.projectId);
  const provider = catalog.providers.get(stored.provider);
  if (provider?.kind !== "openai") throw notFound();
  record.provider = provider.id;
  const upstream = await callOpenAi(route, provider, {
    method: action === "retrieve" ? "GET" : action === "delete" ? "DELETE" : "POST",
    path: `/responses/${id}${action === "cancel" ? "/cancel" : ""}`,
  });
  const buffer = await readAll(upstream.body, undefined, signal);
  if (action === "delete") await deps.responses.forget(id);
  await sendJson(route, buffer);
}
