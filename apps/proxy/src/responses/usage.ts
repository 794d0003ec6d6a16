/*
 * Usage as the Responses API reports it: on the Response object itself, and in a stream only on
 * the terminal event's `response` (there is no `[DONE]`). A count that is missing or not a
 * non-negative integer is treated as absent, and the caller falls back to its bounds.
 */

export const terminalEventTypes: ReadonlySet<string> = new Set([
  "response.completed",
  "response.incomplete",
  "response.failed",
]);

/** Stream events that carry one piece of generated output (one token each, by convention). */
export const outputDeltaTypes: ReadonlySet<string> = new Set([
  "response.output_text.delta",
  "response.refusal.delta",
  "response.function_call_arguments.delta",
  "response.reasoning_text.delta",
  "response.reasoning_summary_text.delta",
  "response.custom_tool_call_input.delta",
  "response.code_interpreter_call_code.delta",
]);

const count = (value: unknown): number | null =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : null;

type Figures = {
  inputTokens: number | null;
  cachedInputTokens: number;
  outputTokens: number | null;
};

/** The usage of a Response object; null figures where it reports none. */
export function responseUsage(response: unknown): Figures {
  const usage = (response as { usage?: unknown } | null)?.usage as
    | {
        input_tokens?: unknown;
        output_tokens?: unknown;
        input_tokens_details?: { cached_tokens?: unknown };
      }
    | null
    | undefined;
  return {
    inputTokens: count(usage?.input_tokens),
    cachedInputTokens: count(usage?.input_tokens_details?.cached_tokens) ?? 0,
    outputTokens: count(usage?.output_tokens),
  };
}

/** Chat Completions usage: cached prompt tokens are in prompt_tokens_details. */
export function chatCachedTokens(usage: unknown): number {
  const details = (usage as { prompt_tokens_details?: { cached_tokens?: unknown } } | null)
    ?.prompt_tokens_details;
  return count(details?.cached_tokens) ?? 0;
}

/**
 * Output tokens of a Response that came without usage: the UTF-8 bytes of its text and call
 * arguments, an upper bound (no tokenizer makes a token of less than one byte).
 */
export function responseOutputBytes(response: unknown): number {
  const output = (response as { output?: unknown } | null)?.output;
  if (!Array.isArray(output)) return 0;
  let bytes = 0;
  for (const item of output as { content?: unknown; arguments?: unknown }[]) {
    if (typeof item?.arguments === "string") bytes += Buffer.byteLength(item.arguments);
    if (!Array.isArray(item?.content)) continue;
    for (const part of item.content as { text?: unknown; refusal?: unknown }[]) {
      if (typeof part?.text === "string") bytes += Buffer.byteLength(part.text);
      if (typeof part?.refusal === "string") bytes += Buffer.byteLength(part.refusal);
    }
  }
  return bytes;
}
