// Cost math in nano-USD. Prices are nano-USD per 1M tokens, so every cost is a rational number
// of nanos with denominator 1M; it is rounded up once, at the end, so a request is never
// undercharged and never charged more than 1 nano above its exact value.

export const TOKENS_PER_PRICE_UNIT = 1_000_000n;

// cachedInputPer1M prices the cached share of the input; absent (or null), cached tokens pay the
// full input price, so a catalog without it never undercharges.
export type Prices = { inputPer1M: bigint; outputPer1M: bigint; cachedInputPer1M?: bigint | null };

// cachedInputTokens is the part of inputTokens the provider served from its prompt cache.
export type Usage = {
  inputTokens: number | bigint;
  outputTokens: number | bigint;
  cachedInputTokens?: number | bigint;
};

export type ReservationInput = {
  promptTokens: number | bigint;
  outputTokens: number | bigint;
  // Completions per request (`n`); every choice may produce `outputTokens`.
  n?: number | bigint;
};

// Invalid counts are a caller bug (the proxy validates the request first); coercing them
// (rounding, clamping at 0) could undercharge, so refuse loudly instead.
function toCount(value: number | bigint, name: string): bigint {
  if (typeof value === "bigint") {
    if (value < 0n) throw new RangeError(`${name} must not be negative, got ${value}`);
    return value;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
  }
  return BigInt(value);
}

function toPrice(value: bigint, name: string): bigint {
  if (value < 0n) throw new RangeError(`${name} must not be negative, got ${value}`);
  return value;
}

function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}

export function tokenCost(tokens: number | bigint, pricePer1M: bigint): bigint {
  const exact = toCount(tokens, "tokens") * toPrice(pricePer1M, "pricePer1M");
  return ceilDiv(exact, TOKENS_PER_PRICE_UNIT);
}

// Ceil of the exact sum rather than the sum of two ceils: the latter could charge 2 nanos
// above the exact value, and the contract asks for rounding up to one unit, not two.
export function requestCost(usage: Usage, prices: Prices): bigint {
  const input = toCount(usage.inputTokens, "inputTokens");
  // A provider claiming more cached tokens than input tokens is not believed past the input.
  const cached = minBig(toCount(usage.cachedInputTokens ?? 0, "cachedInputTokens"), input);
  const inputPrice = toPrice(prices.inputPer1M, "inputPer1M");
  // A cached price above the input price would be a catalog mistake; it still never undercharges.
  const cachedPrice =
    prices.cachedInputPer1M == null
      ? inputPrice
      : toPrice(prices.cachedInputPer1M, "cachedInputPer1M");
  const exact =
    (input - cached) * inputPrice +
    cached * cachedPrice +
    toCount(usage.outputTokens, "outputTokens") * toPrice(prices.outputPer1M, "outputPer1M");
  return ceilDiv(exact, TOKENS_PER_PRICE_UNIT);
}

const minBig = (a: bigint, b: bigint) => (a < b ? a : b);

// The worst case reserved before forwarding: every one of the `n` choices may use the whole
// output bound, the prompt is billed once.
export function reservationCost(input: ReservationInput, prices: Prices): bigint {
  const exact =
    toCount(input.promptTokens, "promptTokens") * toPrice(prices.inputPer1M, "inputPer1M") +
    toCount(input.outputTokens, "outputTokens") *
      toPrice(prices.outputPer1M, "outputPer1M") *
      toCount(input.n ?? 1, "n");
  return ceilDiv(exact, TOKENS_PER_PRICE_UNIT);
}

/**
 * The largest output bound whose reservation fits in `remainingNanos`, never above `cap`.
 * 0 when no positive bound fits (including when the prompt alone does not fit): the caller
 * refuses anything below `OSM_MIN_OUTPUT_TOKENS` anyway. A free output (price 0 or n = 0)
 * affords `cap`; the default cap is the largest safe integer so the answer always converts to
 * `bigint` exactly (`Infinity` would not).
 */
export function affordableOutputTokens(
  remainingNanos: bigint,
  promptTokens: number | bigint,
  n: number | bigint,
  prices: Prices,
  cap: number = Number.MAX_SAFE_INTEGER,
): number {
  const limit = toCount(cap, "cap");
  // ceil(x / 1M) <= R  <=>  x <= R * 1M, because R is an integer.
  const budget =
    remainingNanos * TOKENS_PER_PRICE_UNIT -
    toCount(promptTokens, "promptTokens") * toPrice(prices.inputPer1M, "inputPer1M");
  if (budget < 0n) return 0;
  const perOutputToken = toPrice(prices.outputPer1M, "outputPer1M") * toCount(n, "n");
  if (perOutputToken === 0n) return Number(limit);
  const affordable = budget / perOutputToken;
  // Math.min does not take bigints.
  if (affordable > limit) return Number(limit);
  return Number(affordable);
}

// --- Prompt bounds -------------------------------------------------------------------------
//
// Byte-level tokenizers (OpenAI's tiktoken/o200k, Anthropic's) split a text into tokens that
// each stand for at least one UTF-8 byte, so a text's UTF-8 byte length is an upper bound of
// its token count. What a tokenizer adds on top — the chat template's role markers and
// separators, tool-use instructions — is covered by the overheads below.

// Any image part counts this many tokens, whatever its size or `detail`. It covers OpenAI's
// tile-based models (gpt-4o: at most 85 + 8 × 170 = 1 445), its patch-based models (at most
// 1 536 patches × the model's multiplier, ≤ 2.46 → ≤ 3 779) and Anthropic (≈ 1 600 at the
// largest image it keeps). Not gpt-4o-mini, which bills images as up to ~48k tokens so their
// price matches gpt-4o's: pass `imageTokenAllowance` for such a model. Counting the bytes of a
// base64 data URL instead would reserve hundreds of times the real cost.
export const IMAGE_TOKEN_ALLOWANCE = 4_000;

// Per JSON object inside `messages` (a message, a content part, a tool call): OpenAI's
// template spends 3–4 tokens per message and about 8 per tool call (recipient and channel
// markers); Anthropic's blocks cost a few each.
export const MESSAGE_TOKEN_OVERHEAD = 8;

// Once per request: reply priming (`<|start|>assistant`) and the system-prompt framing.
export const REQUEST_TOKEN_OVERHEAD = 16;

// Once when tools or functions are declared: Anthropic injects a tool-use system prompt of
// 250–550 tokens depending on model and `tool_choice`; OpenAI a namespace header.
export const TOOLS_TOKEN_ALLOWANCE = 1_000;

export type EmbeddingInput =
  | string
  | readonly string[]
  | readonly number[]
  | readonly (readonly number[])[];

export type ChatPromptBody = {
  messages: readonly unknown[];
  tools?: unknown;
  functions?: unknown;
  response_format?: unknown;
};

export type EmbeddingPromptBody = { input: EmbeddingInput };

export type PromptBoundOptions = { imageTokenAllowance?: number };

// UTF-8 length without allocating an encoded copy (and without `Buffer`, so the dashboard can
// import this module too). A lone surrogate is encoded as U+FFFD, 3 bytes.
export function utf8ByteLength(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

const IMAGE_PART_TYPES: ReadonlySet<unknown> = new Set(["image_url", "image", "input_image"]);

function isImagePart(part: Record<string, unknown>): boolean {
  return IMAGE_PART_TYPES.has(part["type"]) || (part["type"] === undefined && "image_url" in part);
}

// Counts the values, not the keys: keys are the request's structure, which the template
// renders as the markers MESSAGE_TOKEN_OVERHEAD stands for. Unknown part types (audio, files)
// fall through to their bytes: base64 is far more bytes than such a part has tokens, so the
// bound stays safe, if generous.
function messageValueTokens(value: unknown, imageAllowance: number): number {
  if (typeof value === "string") return utf8ByteLength(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value).length;
  if (Array.isArray(value)) {
    let sum = 0;
    for (const item of value) sum += messageValueTokens(item, imageAllowance);
    return sum;
  }
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (isImagePart(record)) return MESSAGE_TOKEN_OVERHEAD + imageAllowance;
    let sum = MESSAGE_TOKEN_OVERHEAD;
    for (const key in record) sum += messageValueTokens(record[key], imageAllowance);
    return sum;
  }
  return 0;
}

// Tool schemas are rendered by the provider in its own syntax, shorter than their JSON (keys
// like "type", "properties" and quotes disappear), so the JSON's bytes bound them.
function jsonBytes(value: unknown): number {
  if (value === undefined || value === null) return 0;
  const json = JSON.stringify(value);
  return json === undefined ? 0 : utf8ByteLength(json);
}

function hasDeclarations(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : value !== undefined && value !== null;
}

export function chatPromptTokenBound(body: ChatPromptBody, options?: PromptBoundOptions): number {
  const imageAllowance = options?.imageTokenAllowance ?? IMAGE_TOKEN_ALLOWANCE;
  let sum = REQUEST_TOKEN_OVERHEAD;
  for (const message of body.messages) sum += messageValueTokens(message, imageAllowance);
  sum += jsonBytes(body.tools) + jsonBytes(body.functions);
  if (hasDeclarations(body.tools) || hasDeclarations(body.functions)) sum += TOOLS_TOKEN_ALLOWANCE;
  // A JSON schema in response_format is shown to the model as part of the prompt.
  if (typeof body.response_format === "object") sum += jsonBytes(body.response_format);
  return sum;
}

// Hosted tools (web or file search, code interpreter, MCP…) add the provider's own results to
// the prompt; this is reserved per declared hosted tool. What such a tool adds beyond it is
// still charged in full at settlement.
export const HOSTED_TOOL_TOKEN_ALLOWANCE = 10_000;

export type ResponsesPromptBody = {
  input?: unknown;
  instructions?: unknown;
  tools?: unknown;
  text?: unknown;
};

// The Responses API's prompt: `instructions` and `input` (a string, or items shaped like chat
// messages and content parts, bounded the same way), tool declarations, a JSON schema format.
// Context the provider holds (previous_response_id, conversation) is not in the body: the
// caller adds what it knows of it.
export function responsesPromptTokenBound(
  body: ResponsesPromptBody,
  options?: PromptBoundOptions,
): number {
  const imageAllowance = options?.imageTokenAllowance ?? IMAGE_TOKEN_ALLOWANCE;
  let sum = REQUEST_TOKEN_OVERHEAD;
  for (const text of [body.instructions, body.input]) {
    if (typeof text === "string") sum += MESSAGE_TOKEN_OVERHEAD + utf8ByteLength(text);
  }
  if (Array.isArray(body.input)) {
    for (const item of body.input) sum += messageValueTokens(item, imageAllowance);
  }
  sum += jsonBytes(body.tools);
  if (hasDeclarations(body.tools)) sum += TOOLS_TOKEN_ALLOWANCE;
  if (Array.isArray(body.tools)) {
    for (const tool of body.tools) {
      const type = (tool as { type?: unknown } | null)?.type;
      if (type !== "function" && type !== "custom") sum += HOSTED_TOOL_TOKEN_ALLOWANCE;
    }
  }
  const format = (body.text as { format?: unknown } | null | undefined)?.format;
  if (typeof format === "object") sum += jsonBytes(format);
  return sum;
}

// Strings count their bytes; token arrays (number[] / number[][]) are already tokens.
export function embeddingInputTokenBound(input: EmbeddingInput): number {
  if (typeof input === "string") return utf8ByteLength(input);
  let sum = 0;
  for (const item of input as readonly unknown[]) {
    if (typeof item === "string") sum += utf8ByteLength(item);
    else if (typeof item === "number") sum += 1;
    else if (Array.isArray(item)) sum += item.length;
  }
  return sum;
}

// One entry point for both endpoints: the body's shape says which it is.
export function promptTokenBound(
  body: ChatPromptBody | EmbeddingPromptBody,
  options?: PromptBoundOptions,
): number {
  return "messages" in body
    ? chatPromptTokenBound(body, options)
    : embeddingInputTokenBound(body.input);
}
