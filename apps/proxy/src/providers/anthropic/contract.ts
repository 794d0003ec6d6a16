import type { SseEvent } from "../../streaming/sse-parser.ts";

/**
 * What the gateway needs from the Anthropic translation. The chat route stays wire-agnostic:
 * it hands the client's OpenAI-shaped body in and gets OpenAI-shaped answers back.
 */
export type TokenUsage = {
  inputTokens: number;
  outputTokens: number;
  /** The part of inputTokens read from the provider's prompt cache. */
  cachedInputTokens?: number;
};

export type AnthropicRequestResult =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; param: string; message: string };

export type TranslateRequestOptions = {
  upstreamModel: string;
  /** Always set: Anthropic requires max_tokens; the gateway decides the bound. */
  maxTokens: number;
  stream: boolean;
};

export type AnthropicStreamTranslator = {
  /** OpenAI SSE payloads (the JSON after `data: `) to send for one Anthropic event. */
  onEvent(event: SseEvent): string[];
  /** Usage seen so far (input from message_start, output from message_delta or counted). */
  usage(): TokenUsage;
  /** True once message_stop arrived. */
  finished(): boolean;
};
