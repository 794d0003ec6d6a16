import { GatewayError } from "../../errors.ts";
import type { ChatFields } from "../../request-fields.ts";
import type { AdmittedRequest } from "../adapter.ts";
import { charge, relayStream, sendJson } from "../answer.ts";
import { toAnthropicRequest } from "./request.ts";
import { createAnthropicStreamTranslator } from "./stream.ts";
import { postMessages, readMessage, streamFailure } from "./upstream.ts";

/** POST /v1/chat/completions on an Anthropic provider: translated both ways. */
export async function anthropicChat(request: AdmittedRequest<ChatFields>): Promise<void> {
  const { record, fields, model, provider } = request;
  const translated = toAnthropicRequest(request.body, {
    upstreamModel: model.upstreamModel,
    maxTokens: request.outputBound,
    stream: fields.stream,
  });
  if (!translated.ok)
    throw new GatewayError("invalid_request", translated.message, { param: translated.param });
  const upstream = await postMessages(request, translated.body, fields.stream);

  if (!fields.stream) {
    const answer = await readMessage(request, upstream, fields.model);
    const { inputTokens, outputTokens, cachedInputTokens } = answer.usage;
    charge(request, { inputTokens, outputTokens, cachedInputTokens }, outputTokens);
    // The client sees the usage it is charged for, also when the provider sent none.
    if (record.inputTokens !== inputTokens)
      answer.body.usage = {
        prompt_tokens: record.inputTokens,
        completion_tokens: record.outputTokens,
        total_tokens: record.inputTokens + record.outputTokens,
      };
    await sendJson(request, JSON.stringify(answer.body));
    return;
  }

  const translator = createAnthropicStreamTranslator(fields.model, {
    includeUsage: fields.includeUsage,
  });
  await relayStream(request, upstream, {
    onEvent: (event) => translator.onEvent(event).map((payload) => `data: ${payload}\n\n`),
    finished: translator.finished,
    usage: () => {
      const reported = translator.usage();
      return { reported, estimatedOutput: reported.outputTokens };
    },
    failure: streamFailure(provider.apiKey),
  });
}
