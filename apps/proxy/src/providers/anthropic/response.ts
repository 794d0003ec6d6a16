import type { TokenUsage } from "./contract.ts";
import {
  anthropicErrorMessage,
  type Block,
  finishReason,
  isRecord,
  nowSeconds,
  openAiUsage,
  promptTokens,
  readUsage,
} from "./wire.ts";

// A whole (non-streamed) Anthropic message as an OpenAI chat.completion. Pure: no I/O.

export function fromAnthropicResponse(
  json: unknown,
  requestedModel: string,
): { body: Record<string, unknown>; usage: TokenUsage } {
  if (!isRecord(json)) throw new Error("The provider's answer is not a JSON object.");
  const providerError = anthropicErrorMessage(json);
  if (providerError !== null) throw new Error(providerError);
  const { id, content } = json;
  if (typeof id !== "string" || !Array.isArray(content)) {
    throw new Error("The provider's answer is not an Anthropic message.");
  }

  const texts: string[] = [];
  const toolCalls: Block[] = [];
  for (const block of content) {
    if (!isRecord(block)) throw new Error("The provider's answer has a malformed content block.");
    if (block["type"] === "text") {
      if (typeof block["text"] !== "string") throw new Error("A text block has no text.");
      texts.push(block["text"]);
    } else if (block["type"] === "tool_use") {
      if (typeof block["id"] !== "string" || typeof block["name"] !== "string") {
        throw new Error("A tool_use block has no id or name.");
      }
      toolCalls.push({
        id: block["id"],
        type: "function",
        function: { name: block["name"], arguments: JSON.stringify(block["input"] ?? {}) },
      });
    }
    // Other blocks (thinking, server tool results) have no Chat Completions equivalent.
  }

  const message: Record<string, unknown> = {
    role: "assistant",
    content: texts.length > 0 ? texts.join("") : null,
    refusal: null,
  };
  if (toolCalls.length > 0) message["tool_calls"] = toolCalls;

  const reported = readUsage(json["usage"]);
  const usage: TokenUsage = reported
    ? {
        inputTokens: promptTokens(reported),
        outputTokens: reported.output,
        cachedInputTokens: reported.cacheRead,
      }
    : // Real answers always carry usage; without it the output is estimated like a stream's
      // (one token per word, one per tool call plus one per 4 code points of arguments) and
      // the prompt is unknown here.
      { inputTokens: 0, outputTokens: estimateOutput(texts.join(""), toolCalls) };

  return {
    body: {
      id: `chatcmpl-${id}`,
      object: "chat.completion",
      created: nowSeconds(),
      model: requestedModel,
      choices: [
        { index: 0, message, logprobs: null, finish_reason: finishReason(json["stop_reason"]) },
      ],
      usage: openAiUsage(usage.inputTokens, usage.outputTokens, reported?.cacheRead ?? 0),
    },
    usage,
  };
}

function estimateOutput(text: string, toolCalls: Block[]): number {
  let tokens = text.split(/\s+/u).filter((w) => w !== "").length;
  for (const call of toolCalls) {
    const fn = call["function"] as { arguments: string };
    tokens += 1 + Math.ceil(Array.from(fn.arguments).length / 4);
  }
  return tokens;
}
