// What the request, response and stream translations share of the Anthropic wire format.

export type Block = Record<string, unknown>;

/** Thrown inside a request translation, turned into `{ok: false}` at its entry point. */
export class Refusal extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

export const unsupported = (field: string) =>
  new Refusal(field, `${field} is not supported for Anthropic models.`);

const finishReasons: Record<string, string> = {
  end_turn: "stop",
  stop_sequence: "stop",
  pause_turn: "stop",
  max_tokens: "length",
  model_context_window_exceeded: "length",
  tool_use: "tool_calls",
  refusal: "content_filter",
};

// Unknown or missing reasons (a newer API, a cut stream) read as a normal end to OpenAI clients.
export const finishReason = (stopReason: unknown): string =>
  (typeof stopReason === "string" ? finishReasons[stopReason] : undefined) ?? "stop";

export type AnthropicUsage = {
  input: number;
  cacheCreation: number;
  cacheRead: number;
  output: number;
};

export function readUsage(value: unknown): AnthropicUsage | null {
  if (value === undefined || value === null) return null;
  if (!isRecord(value)) throw new Error("The provider's usage is not an object.");
  const count = (field: string): number => {
    const n = value[field];
    if (n === undefined || n === null) return 0;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
      throw new Error(`The provider's usage.${field} is not a token count.`);
    }
    return n;
  };
  return {
    input: count("input_tokens"),
    cacheCreation: count("cache_creation_input_tokens"),
    cacheRead: count("cache_read_input_tokens"),
    output: count("output_tokens"),
  };
}

/**
 * OpenAI's prompt_tokens covers the whole prompt; Anthropic reports cached and cache-written
 * prompt tokens apart from input_tokens, so they are added back (they are billed too).
 */
export const promptTokens = (u: Pick<AnthropicUsage, "input" | "cacheCreation" | "cacheRead">) =>
  u.input + u.cacheCreation + u.cacheRead;

export function openAiUsage(prompt: number, completion: number, cacheRead: number) {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(cacheRead > 0 ? { prompt_tokens_details: { cached_tokens: cacheRead } } : {}),
  };
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export function anthropicErrorMessage(json: unknown): string | null {
  if (!isRecord(json)) return null;
  const error = json["error"];
  if (isRecord(error) && typeof error["message"] === "string") return error["message"];
  return null;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
