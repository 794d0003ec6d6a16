import { GatewayError } from "../../errors.ts";
import type { ResponsesFields } from "../../responses/request-fields.ts";
import {
  chatCompletionToResponse,
  type ResponseUsageFigures,
  responseEcho,
} from "../../responses/response-object.ts";
import {
  createResponsesStreamTranslator,
  encodeResponsesEvent,
} from "../../responses/stream-translator.ts";
import { responsesToChatRequest } from "../../responses/to-chat.ts";
import type { AdmittedRequest } from "../adapter.ts";
import { charge, relayStream, sendJson } from "../answer.ts";
import { toAnthropicRequest } from "./request.ts";
import { createAnthropicStreamTranslator } from "./stream.ts";
import { postMessages, readMessage, streamFailure } from "./upstream.ts";

/**
 * POST /v1/responses on an Anthropic provider, through the chat translation: the Responses
 * request becomes a chat request and then a Messages request; the answer comes back as a chat
 * completion (or chunks) and then as a Response (or Responses stream events).
 */
export async function anthropicResponses(request: AdmittedRequest<ResponsesFields>): Promise<void> {
  const { record, fields, model, provider } = request;
  const chat = responsesToChatRequest(request.body);
  if (!chat.ok) throw new GatewayError("invalid_request", chat.message, { param: chat.param });
  const translated = toAnthropicRequest(chat.body, {
    upstreamModel: model.upstreamModel,
    maxTokens: request.outputBound,
    stream: fields.stream,
  });
  if (!translated.ok) {
    throw new GatewayError("invalid_request", translated.message, { param: translated.param });
  }
  const upstream = await postMessages(request, translated.body, fields.stream);
  const echo = responseEcho(request.body, fields.model, request.outputBound);
  // The client sees the usage it is charged for, also when the provider sent none.
  const charged = (): ResponseUsageFigures => ({
    inputTokens: record.inputTokens,
    cachedInputTokens: record.cachedInputTokens,
    outputTokens: record.outputTokens,
  });

  if (!fields.stream) {
    const answer = await readMessage(request, upstream, fields.model);
    charge(request, answer.usage, answer.usage.outputTokens);
    await sendJson(request, JSON.stringify(chatCompletionToResponse(answer.body, echo, charged())));
    return;
  }

  const anthropic = createAnthropicStreamTranslator(fields.model, { includeUsage: false });
  const responses = createResponsesStreamTranslator(echo);
  await relayStream(request, upstream, {
    onEvent: (event) =>
      anthropic
        .onEvent(event)
        .flatMap((payload) => responses.onChunk(payload).map(encodeResponsesEvent)),
    finished: anthropic.finished,
    usage: () => {
      const reported = anthropic.usage();
      return { reported, estimatedOutput: reported.outputTokens };
    },
    failure: streamFailure(provider.apiKey),
    closing: async () => responses.finish(charged()).map(encodeResponsesEvent),
  });
}
