import type { ChatFields } from "../../request-fields.ts";
import { chatCachedTokens } from "../../responses/usage.ts";
import type { SseEvent } from "../../streaming/sse-parser.ts";
import type { AdmittedRequest } from "../adapter.ts";
import {
  charge,
  type ReportedUsage,
  readJson,
  relayStream,
  type StreamTranslation,
  sendJson,
  upstreamError,
} from "../answer.ts";
import { openAiErrorMessage, postOpenAi, reportedCount } from "./upstream.ts";

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

const usageOf = (usage: OpenAiAnswer["usage"] | null | undefined): ReportedUsage | null =>
  usage
    ? {
        inputTokens: reportedCount(usage.prompt_tokens),
        outputTokens: reportedCount(usage.completion_tokens),
        cachedInputTokens: chatCachedTokens(usage),
      }
    : null;

/** POST /v1/chat/completions on an OpenAI-compatible provider: forwarded as the client sent it. */
export async function openAiChat(request: AdmittedRequest<ChatFields>): Promise<void> {
  const { fields, model, body } = request;
  const upstreamBody: Record<string, unknown> = { ...body, model: model.upstreamModel };
  if (fields.maxOutputTokens === undefined) upstreamBody[model.tokenParam] = request.outputBound;
  // Usage is always asked for so streamed calls are charged; stripped below if the client did not ask.
  if (fields.stream)
    upstreamBody.stream_options = {
      ...(body.stream_options as object | undefined),
      include_usage: true,
    };
  const upstream = await postOpenAi(
    request,
    "/chat/completions",
    upstreamBody,
    fields.stream ? "text/event-stream" : "application/json",
  );
  if (upstream.status >= 400) throw await upstreamError(request, upstream, openAiErrorMessage);

  if (!fields.stream) {
    const { buffer, json } = await readJson(request, upstream);
    const answer = (json ?? {}) as OpenAiAnswer;
    charge(request, usageOf(answer.usage), answerBytes(answer));
    await sendJson(request, buffer);
    return;
  }
  await relayStream(request, upstream, passThrough(fields.includeUsage));
}

/** OpenAI's own stream goes out byte for byte, less the usage chunk the client did not ask for. */
function passThrough(includeUsage: boolean): StreamTranslation {
  let reported: ReportedUsage | null = null;
  let countedOutput = 0;
  let sawDone = false;
  return {
    onEvent(event: SseEvent): string[] {
      if (event.data === null) return [];
      if (event.data === "[DONE]") {
        sawDone = true;
        return [event.raw];
      }
      try {
        const parsed = JSON.parse(event.data) as {
          choices?: { delta?: { content?: string | null; tool_calls?: unknown[] } }[];
          usage?: OpenAiAnswer["usage"] | null;
        };
        for (const choice of parsed.choices ?? []) {
          if (choice.delta?.content || choice.delta?.tool_calls?.length) countedOutput++;
        }
        if (parsed.usage) {
          reported = usageOf(parsed.usage);
          if (!includeUsage && (parsed.choices?.length ?? 0) === 0) return [];
        }
      } catch {
        // Not JSON: pass it through untouched, it is the provider's to explain.
      }
      return [event.raw];
    },
    finished: () => sawDone,
    // Without usage every content delta counts as one token, the best figure a stream leaves.
    usage: () => ({ reported, estimatedOutput: countedOutput }),
  };
}
