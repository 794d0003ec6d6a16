import { GatewayError } from "../../errors.ts";
import type { ChatFields } from "../../request-fields.ts";
import type { AdmittedRequest } from "../adapter.ts";
import { charge, relayStream, sendJson, upstreamError } from "../answer.ts";
import { callUpstream, readAll, scrub, upstreamFailure } from "../upstream-call.ts";
import { toAnthropicRequest } from "./request.ts";
import { fromAnthropicResponse } from "./response.ts";
import { createAnthropicStreamTranslator } from "./stream.ts";
import { anthropicErrorMessage } from "./wire.ts";

/** POST /v1/chat/completions on an Anthropic provider: translated both ways. */
export async function anthropicChat(request: AdmittedRequest<ChatFields>): Promise<void> {
  const { deps, record, fields, model, provider, signal } = request;
  const translated = toAnthropicRequest(request.body, {
    upstreamModel: model.upstreamModel,
    maxTokens: request.outputBound,
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
  if (upstream.status >= 400) throw await upstreamError(request, upstream, anthropicErrorMessage);

  if (!fields.stream) {
    const buffer = await readAll(upstream.body, undefined, signal);
    let answer: ReturnType<typeof fromAnthropicResponse>;
    try {
      answer = fromAnthropicResponse(JSON.parse(buffer.toString("utf8")), fields.model);
    } catch {
      throw new GatewayError("upstream_error", "The provider's answer could not be read.");
    }
    const { inputTokens, outputTokens } = answer.usage;
    charge(request, { inputTokens, outputTokens }, outputTokens);
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
      const { inputTokens, outputTokens } = translator.usage();
      return { reported: { inputTokens, outputTokens }, estimatedOutput: outputTokens };
    },
    // The translator throws a plain Error for the provider's error event or a malformed one.
    failure: (err, aborted) =>
      err instanceof Error &&
      !(err instanceof GatewayError) &&
      !aborted.aborted &&
      !(err as { code?: string }).code
        ? new GatewayError(
            "upstream_error",
            `The provider failed mid-stream: ${scrub(err.message, [provider.apiKey])}`,
          )
        : upstreamFailure(err, aborted),
  });
}
