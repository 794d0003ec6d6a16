import { randomUUID } from "node:crypto";
import type { SseEvent } from "../streaming/sse-parser.ts";
import type {
  AnthropicRequestResult,
  AnthropicStreamTranslator,
  TokenUsage,
  TranslateRequestOptions,
} from "./anthropic-contract.ts";

/*
 * Pure translation between the OpenAI Chat Completions wire format (what clients send and
 * expect) and the Anthropic Messages API (anthropic-version 2023-06-01). No I/O here: the chat
 * route calls these functions around the upstream call.
 *
 * Request fields, decided once so a client never gets a silently different answer:
 * - translated: messages, stream, temperature (0–1), top_p, stop, tools, tool_choice,
 *   parallel_tool_calls, user / safety_identifier (→ metadata.user_id).
 * - replaced by the gateway: model (→ upstreamModel), stream (→ options.stream), max_tokens / max_completion_tokens
 *   (→ options.maxTokens, the bound the gateway reserved for).
 * - dropped, because they do not change the answer: stream_options (the stream translator
 *   emits the usage chunk itself when asked), store and metadata (OpenAI-side storage and its tags), prompt_cache_key
 *   (a caching hint), service_tier "auto" / "default"; and any field that is null or holds
 *   OpenAI's no-op default (n 1, logprobs false, top_logprobs 0, presence/frequency_penalty 0,
 *   logit_bias {}, response_format {type:"text"}, modalities ["text"], parallel_tool_calls
 *   true) — SDKs and frameworks often send these explicitly.
 * - refused with `<field> is not supported for Anthropic models.`: everything else, notably
 *   n > 1, logprobs, top_logprobs, penalties, logit_bias, response_format json_object /
 *   json_schema, seed, audio, modalities with audio, reasoning_effort, verbosity, prediction,
 *   web_search_options, other service tiers, and the legacy functions / function_call (the
 *   response would have to use the legacy `function_call` shape, which fromAnthropicResponse
 *   cannot know to produce) — and any field unknown here.
 */

// ---------------------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------------------

type Block = Record<string, unknown>;
type Turn = { role: "user" | "assistant"; content: Block[] };

/** Thrown inside the request translation, turned into `{ok: false}` at its entry point. */
class Refusal extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

const unsupported = (field: string) =>
  new Refusal(field, `${field} is not supported for Anthropic models.`);

/** Fields that never reach Anthropic because the gateway handles them or they change nothing. */
const alwaysDropped = new Set([
  "model",
  "max_tokens",
  "max_completion_tokens",
  "stream",
  "stream_options",
  "store",
  "metadata",
  "prompt_cache_key",
]);

/** OpenAI's default for each field: sending it explicitly asks for nothing we cannot give. */
function isNoOpDefault(field: string, value: unknown): boolean {
  switch (field) {
    case "n":
      return value === 1;
    case "logprobs":
      return value === false;
    case "top_logprobs":
    case "presence_penalty":
    case "frequency_penalty":
      return value === 0;
    case "logit_bias":
      return isRecord(value) && Object.keys(value).length === 0;
    case "response_format":
      return isRecord(value) && value["type"] === "text";
    case "modalities":
      return Array.isArray(value) && value.every((m) => m === "text");
    case "service_tier":
      return value === "auto" || value === "default";
    default:
      return false;
  }
}

/** Fields translated below; anything else is dropped (above) or refused. */
const translated = new Set([
  "messages",
  "temperature",
  "top_p",
  "stop",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "user",
  "safety_identifier",
]);

export function toAnthropicRequest(
  body: Record<string, unknown>,
  options: TranslateRequestOptions,
): AnthropicRequestResult {
  try {
    return { ok: true, body: translateRequest(body, options) };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, param: err.param, message: err.message };
    throw err;
  }
}

function translateRequest(
  body: Record<string, unknown>,
  options: TranslateRequestOptions,
): Record<string, unknown> {
  for (const [field, value] of Object.entries(body)) {
    // null means "unset" in the OpenAI API.
    if (value === null || value === undefined) continue;
    if (alwaysDropped.has(field) || translated.has(field)) continue;
    if (isNoOpDefault(field, value)) continue;
    throw unsupported(field);
  }

  const { system, turns } = translateMessages(body["messages"]);
  const out: Record<string, unknown> = {
    model: options.upstreamModel,
    max_tokens: options.maxTokens,
  };
  if (system !== undefined) out["system"] = system;
  out["messages"] = turns;
  out["stream"] = options.stream;

  const temperature = body["temperature"];
  if (temperature !== undefined && temperature !== null) {
    if (typeof temperature !== "number" || !Number.isFinite(temperature)) {
      throw new Refusal("temperature", "temperature must be a number.");
    }
    // OpenAI accepts 0–2; Anthropic only 0–1. Rescaling would change the sampling the client
    // asked for, so refuse instead.
    if (temperature < 0 || temperature > 1) {
      throw new Refusal(
        "temperature",
        `temperature must be between 0 and 1 for Anthropic models (got ${temperature}).`,
      );
    }
    out["temperature"] = temperature;
  }

  const topP = body["top_p"];
  if (topP !== undefined && topP !== null) {
    if (typeof topP !== "number" || !Number.isFinite(topP) || topP < 0 || topP > 1) {
      throw new Refusal("top_p", "top_p must be a number between 0 and 1.");
    }
    out["top_p"] = topP;
  }

  const stop = translateStop(body["stop"]);
  if (stop) out["stop_sequences"] = stop;

  const tools = translateTools(body["tools"]);
  if (tools) out["tools"] = tools;
  const toolChoice = translateToolChoice(
    body["tool_choice"],
    body["parallel_tool_calls"],
    tools !== null,
  );
  if (toolChoice) out["tool_choice"] = toolChoice;

  const userId = body["safety_identifier"] ?? body["user"];
  if (userId !== undefined && userId !== null) {
    if (typeof userId !== "string") {
      const param = body["safety_identifier"] != null ? "safety_identifier" : "user";
      throw new Refusal(param, `${param} must be a string.`);
    }
    out["metadata"] = { user_id: userId };
  }
  return out;
}

function translateStop(stop: unknown): string[] | null {
  if (stop === undefined || stop === null) return null;
  if (typeof stop === "string") return [stop];
  if (Array.isArray(stop) && stop.every((s) => typeof s === "string")) {
    return stop.length > 0 ? stop : null;
  }
  throw new Refusal("stop", "stop must be a string or an array of strings.");
}

function translateTools(tools: unknown): Block[] | null {
  if (tools === undefined || tools === null) return null;
  if (!Array.isArray(tools)) throw new Refusal("tools", "tools must be an array.");
  if (tools.length === 0) return null;
  return tools.map((tool, i) => {
    if (!isRecord(tool) || tool["type"] !== "function") {
      throw new Refusal(
        "tools",
        `tools[${i}]: only function tools are supported for Anthropic models.`,
      );
    }
    const fn = tool["function"];
    if (!isRecord(fn) || typeof fn["name"] !== "string" || fn["name"] === "") {
      throw new Refusal("tools", `tools[${i}].function.name is required.`);
    }
    const parameters = fn["parameters"] ?? { type: "object", properties: {} };
    if (!isRecord(parameters)) {
      throw new Refusal("tools", `tools[${i}].function.parameters must be a JSON Schema object.`);
    }
    // `strict` has no Anthropic equivalent; the schema still reaches the model, so it is dropped
    // rather than refused.
    const out: Block = { name: fn["name"] };
    if (typeof fn["description"] === "string") out["description"] = fn["description"];
    out["input_schema"] = parameters;
    return out;
  });
}

function translateToolChoice(choice: unknown, parallel: unknown, hasTools: boolean): Block | null {
  if (parallel !== undefined && parallel !== null && typeof parallel !== "boolean") {
    throw new Refusal("parallel_tool_calls", "parallel_tool_calls must be a boolean.");
  }
  let out: Block | null;
  if (choice === undefined || choice === null) out = null;
  else if (choice === "auto") out = { type: "auto" };
  else if (choice === "required") out = { type: "any" };
  else if (choice === "none") out = { type: "none" };
  else if (
    isRecord(choice) &&
    choice["type"] === "function" &&
    isRecord(choice["function"]) &&
    typeof choice["function"]["name"] === "string"
  ) {
    out = { type: "tool", name: choice["function"]["name"] };
  } else {
    throw new Refusal(
      "tool_choice",
      'tool_choice must be "auto", "required", "none" or {type: "function", function: {name}} for Anthropic models.',
    );
  }

  // Without tools a choice means nothing; Anthropic would reject it, OpenAI lets "auto"/"none" by.
  if (!hasTools) {
    if (out === null || out["type"] === "auto" || out["type"] === "none") return null;
    throw new Refusal("tool_choice", "tool_choice requires tools.");
  }
  if (parallel === false) {
    if (out === null) out = { type: "auto" };
    // Anthropic's "none" choice takes no options, and with no tool use there is nothing to limit.
    if (out["type"] !== "none") out["disable_parallel_tool_use"] = true;
  }
  return out;
}

const imageMediaTypes = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

function translateMessages(messages: unknown): {
  system: string | Block[] | undefined;
  turns: Turn[];
} {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new Refusal("messages", "messages must be a non-empty array.");
  }
  const systemTexts: string[] = [];
  const turns: Turn[] = [];

  // Anthropic requires user/assistant alternation: a message with the previous one's role joins it.
  const push = (role: Turn["role"], content: Block[]) => {
    if (content.length === 0) return;
    const last = turns.at(-1);
    if (last && last.role === role) last.content.push(...content);
    else turns.push({ role, content: [...content] });
  };

  messages.forEach((message, i) => {
    const where = `messages[${i}]`;
    if (!isRecord(message)) throw new Refusal("messages", `${where} must be an object.`);
    const role = message["role"];
    // A client echoing an assistant message back (as the SDKs do) includes these as null.
    if (message["function_call"] != null) throw unsupportedIn(where, "function_call");
    if (message["audio"] != null) throw unsupportedIn(where, "audio");
    switch (role) {
      case "system":
      case "developer":
        // Anthropic has a single top-level system prompt; instructions given mid-conversation
        // are hoisted into it in order.
        systemTexts.push(...textParts(message["content"], where));
        return;
      case "user":
        push("user", userContent(message["content"], where));
        return;
      case "assistant":
        push("assistant", assistantContent(message, where));
        return;
      case "tool":
        push("user", [toolResult(message, where)]);
        return;
      default:
        throw new Refusal(
          "messages",
          `${where}: role ${JSON.stringify(role)} is not supported for Anthropic models.`,
        );
    }
  });

  if (turns.length === 0) {
    throw new Refusal(
      "messages",
      "messages must include at least one user or assistant message for Anthropic models.",
    );
  }
  // Anthropic wants tool results at the start of the user turn that answers the tool calls;
  // merging a tool message with a following user message keeps that order, this also fixes
  // a user message placed between the calls and their results.
  for (const turn of turns) {
    if (turn.role !== "user") continue;
    turn.content = [
      ...turn.content.filter((b) => b["type"] === "tool_result"),
      ...turn.content.filter((b) => b["type"] !== "tool_result"),
    ];
  }

  const nonEmpty = systemTexts.filter((t) => t !== "");
  const system =
    nonEmpty.length === 0
      ? undefined
      : nonEmpty.length === 1
        ? nonEmpty[0]
        : nonEmpty.map((text) => ({ type: "text", text }));
  return { system, turns };
}

const unsupportedIn = (where: string, what: string) =>
  new Refusal("messages", `${where}: ${what} is not supported for Anthropic models.`);

/** The texts of a string or text-part content; other part types are refused. */
function textParts(content: unknown, where: string): string[] {
  if (content === undefined || content === null) return [];
  if (typeof content === "string") return [content];
  if (!Array.isArray(content)) {
    throw new Refusal("messages", `${where}.content must be a string or an array of parts.`);
  }
  return content.map((part, j) => {
    if (isRecord(part) && part["type"] === "text" && typeof part["text"] === "string") {
      return part["text"];
    }
    throw unsupportedPart(part, `${where}.content[${j}]`);
  });
}

function unsupportedPart(part: unknown, where: string): Refusal {
  const type = isRecord(part) ? part["type"] : undefined;
  if (typeof type !== "string") return new Refusal("messages", `${where} must have a type.`);
  return unsupportedIn(where, `content part type ${JSON.stringify(type)}`);
}

// Anthropic refuses empty text blocks; an empty string carries nothing, so it is left out.
const textBlocks = (texts: string[]): Block[] =>
  texts.filter((t) => t !== "").map((text) => ({ type: "text", text }));

function userContent(content: unknown, where: string): Block[] {
  if (!Array.isArray(content)) return textBlocks(textParts(content, where));
  const blocks: Block[] = [];
  content.forEach((part, j) => {
    const at = `${where}.content[${j}]`;
    if (isRecord(part) && part["type"] === "image_url") blocks.push(imageBlock(part, at));
    else blocks.push(...textBlocks(textParts([part], at)));
  });
  return blocks;
}

function imageBlock(part: Record<string, unknown>, where: string): Block {
  const image = part["image_url"];
  const url = typeof image === "string" ? image : isRecord(image) ? image["url"] : undefined;
  if (typeof url !== "string") {
    throw new Refusal("messages", `${where}.image_url.url must be a string.`);
  }
  if (/^https?:\/\//i.test(url)) return { type: "image", source: { type: "url", url } };
  const data = /^data:([^;,]+)(?:;[^;,]*)*;base64,(.*)$/s.exec(url);
  if (!data) {
    throw new Refusal(
      "messages",
      `${where}: images must be an http(s) URL or a base64 data: URL for Anthropic models.`,
    );
  }
  const mediaType = data[1]!.toLowerCase();
  if (!imageMediaTypes.has(mediaType)) {
    throw new Refusal(
      "messages",
      `${where}: image type ${mediaType} is not supported for Anthropic models (use JPEG, PNG, GIF or WebP).`,
    );
  }
  // `detail` has no Anthropic equivalent and only tunes cost/resolution on OpenAI: dropped.
  return { type: "image", source: { type: "base64", media_type: mediaType, data: data[2]! } };
}

function assistantContent(message: Record<string, unknown>, where: string): Block[] {
  const texts = textParts(message["content"], where);
  // An echoed refusal is what the model said; keep it as text when there is no other content.
  if (texts.length === 0 && typeof message["refusal"] === "string") texts.push(message["refusal"]);
  const blocks = textBlocks(texts);

  const calls = message["tool_calls"];
  if (calls === undefined || calls === null) return blocks;
  if (!Array.isArray(calls)) throw new Refusal("messages", `${where}.tool_calls must be an array.`);
  calls.forEach((call, j) => {
    const at = `${where}.tool_calls[${j}]`;
    if (!isRecord(call) || call["type"] !== "function" || !isRecord(call["function"])) {
      throw unsupportedIn(at, "a tool call that is not a function call");
    }
    const fn = call["function"];
    if (typeof call["id"] !== "string" || typeof fn["name"] !== "string") {
      throw new Refusal("messages", `${at} needs an id and a function name.`);
    }
    blocks.push({
      type: "tool_use",
      id: call["id"],
      name: fn["name"],
      input: toolArguments(fn["arguments"], at),
    });
  });
  return blocks;
}

/** Anthropic needs the arguments as an object, OpenAI carries them as a JSON string. */
function toolArguments(args: unknown, where: string): Record<string, unknown> {
  // A call without arguments is sometimes echoed with "" instead of "{}".
  if (args === undefined || args === null || args === "") return {};
  if (typeof args !== "string") {
    throw new Refusal("messages", `${where}.function.arguments must be a JSON string.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(args);
  } catch {
    throw new Refusal("messages", `${where}.function.arguments is not valid JSON.`);
  }
  if (!isRecord(value)) {
    throw new Refusal("messages", `${where}.function.arguments must be a JSON object.`);
  }
  return value;
}

function toolResult(message: Record<string, unknown>, where: string): Block {
  const id = message["tool_call_id"];
  if (typeof id !== "string" || id === "") {
    throw new Refusal("messages", `${where}.tool_call_id is required.`);
  }
  const text = textParts(message["content"], where).join("");
  const block: Block = { type: "tool_result", tool_use_id: id };
  if (text !== "") block["content"] = text;
  return block;
}

// ---------------------------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------------------------

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
const finishReason = (stopReason: unknown): string =>
  (typeof stopReason === "string" ? finishReasons[stopReason] : undefined) ?? "stop";

type AnthropicUsage = { input: number; cacheCreation: number; cacheRead: number; output: number };

function readUsage(value: unknown): AnthropicUsage | null {
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
const promptTokens = (u: Pick<AnthropicUsage, "input" | "cacheCreation" | "cacheRead">) =>
  u.input + u.cacheCreation + u.cacheRead;

function openAiUsage(prompt: number, completion: number, cacheRead: number) {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(cacheRead > 0 ? { prompt_tokens_details: { cached_tokens: cacheRead } } : {}),
  };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

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

export function anthropicErrorMessage(json: unknown): string | null {
  if (!isRecord(json)) return null;
  const error = json["error"];
  if (isRecord(error) && typeof error["message"] === "string") return error["message"];
  return null;
}

// ---------------------------------------------------------------------------------------------
// Stream
// ---------------------------------------------------------------------------------------------

export function createAnthropicStreamTranslator(
  requestedModel: string,
  options: { includeUsage: boolean; id?: string; created?: number },
): AnthropicStreamTranslator {
  const created = options.created ?? nowSeconds();
  let id = options.id;
  let started = false;
  let finishSent = false;
  let stopped = false;
  let prompt = { input: 0, cacheCreation: 0, cacheRead: 0 };
  let reportedOutput: number | null = null;
  let countedOutput = 0;
  // Anthropic block index → OpenAI tool_calls index (the call's ordinal among tool calls).
  const toolIndexes = new Map<number, number>();

  const chunkId = () => {
    id ??= `chatcmpl-${randomUUID().replaceAll("-", "")}`;
    return id;
  };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    JSON.stringify({
      id: chunkId(),
      object: "chat.completion.chunk",
      created,
      model: requestedModel,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
  // A stream that skipped message_start still gets the role chunk OpenAI clients expect first.
  const start = (): string[] => {
    if (started) return [];
    started = true;
    return [chunk({ role: "assistant", content: "" })];
  };

  const onMessageStart = (data: Record<string, unknown>): string[] => {
    const message = isRecord(data["message"]) ? data["message"] : {};
    if (id === undefined && typeof message["id"] === "string") id = `chatcmpl-${message["id"]}`;
    const usage = readUsage(message["usage"]);
    // message_start's output_tokens is provisional (1 on the real API); message_delta's figure
    // replaces it, so it is not kept.
    if (usage) prompt = usage;
    return start();
  };

  const onBlockStart = (data: Record<string, unknown>): string[] => {
    const block = data["content_block"];
    if (!isRecord(block)) throw new Error("content_block_start without a content block.");
    const out = start();
    if (block["type"] === "text" && typeof block["text"] === "string" && block["text"] !== "") {
      countedOutput++;
      out.push(chunk({ content: block["text"] }));
    } else if (block["type"] === "tool_use") {
      if (typeof block["id"] !== "string" || typeof block["name"] !== "string") {
        throw new Error("A tool_use block has no id or name.");
      }
      const index = toolIndexes.size;
      toolIndexes.set(blockIndex(data), index);
      countedOutput++;
      out.push(
        chunk({
          tool_calls: [
            {
              index,
              id: block["id"],
              type: "function",
              function: { name: block["name"], arguments: "" },
            },
          ],
        }),
      );
    }
    return out;
  };

  const onBlockDelta = (data: Record<string, unknown>): string[] => {
    const delta = data["delta"];
    if (!isRecord(delta)) throw new Error("content_block_delta without a delta.");
    const out = start();
    if (delta["type"] === "text_delta" && typeof delta["text"] === "string") {
      if (delta["text"] === "") return out;
      countedOutput++;
      out.push(chunk({ content: delta["text"] }));
    } else if (delta["type"] === "input_json_delta" && typeof delta["partial_json"] === "string") {
      const index = toolIndexes.get(blockIndex(data));
      if (index === undefined) throw new Error("input_json_delta for an unknown tool_use block.");
      // Anthropic may open a tool's input with an empty piece; it carries nothing.
      if (delta["partial_json"] === "") return out;
      countedOutput++;
      out.push(chunk({ tool_calls: [{ index, function: { arguments: delta["partial_json"] } }] }));
    }
    // thinking / signature / citations deltas have no Chat Completions equivalent.
    return out;
  };

  const onMessageDelta = (data: Record<string, unknown>): string[] => {
    const raw = data["usage"];
    const usage = readUsage(raw);
    if (usage && isRecord(raw)) {
      // message_delta's counts are cumulative: output_tokens is the final figure, and newer API
      // versions also restate the prompt counts here, which then supersede message_start's.
      if (raw["output_tokens"] != null) reportedOutput = usage.output;
      if (raw["input_tokens"] != null) prompt = usage;
    }
    const delta = isRecord(data["delta"]) ? data["delta"] : {};
    const out = start();
    if (typeof delta["stop_reason"] === "string" && !finishSent) {
      finishSent = true;
      out.push(chunk({}, finishReason(delta["stop_reason"])));
    }
    return out;
  };

  const onMessageStop = (): string[] => {
    const out = start();
    if (!finishSent) {
      finishSent = true;
      out.push(chunk({}, "stop"));
    }
    stopped = true;
    if (options.includeUsage) {
      const u = usage();
      out.push(
        JSON.stringify({
          id: chunkId(),
          object: "chat.completion.chunk",
          created,
          model: requestedModel,
          choices: [],
          usage: openAiUsage(u.inputTokens, u.outputTokens, prompt.cacheRead),
        }),
      );
    }
    out.push("[DONE]");
    return out;
  };

  // Without message_delta usage, every content delta counts as one token (and each tool call
  // one more for its name) — the best figure a cut or usage-less stream leaves us.
  const usage = (): TokenUsage => ({
    inputTokens: promptTokens(prompt),
    outputTokens: reportedOutput ?? countedOutput,
    cachedInputTokens: prompt.cacheRead,
  });

  return {
    onEvent(event: SseEvent): string[] {
      if (stopped || event.data === null) return [];
      let data: unknown;
      try {
        data = JSON.parse(event.data);
      } catch {
        throw new Error("The provider sent a malformed stream event.");
      }
      if (!isRecord(data)) throw new Error("The provider sent a malformed stream event.");
      const type = typeof data["type"] === "string" ? data["type"] : event.event;
      switch (type) {
        case "message_start":
          return onMessageStart(data);
        case "content_block_start":
          return onBlockStart(data);
        case "content_block_delta":
          return onBlockDelta(data);
        case "message_delta":
          return onMessageDelta(data);
        case "message_stop":
          return onMessageStop();
        case "error":
          throw new Error(anthropicErrorMessage(data) ?? "The provider reported a stream error.");
        default:
          // ping, content_block_stop, and event types added by later API versions.
          return [];
      }
    },
    usage,
    finished: () => stopped,
  };
}

function blockIndex(data: Record<string, unknown>): number {
  const index = data["index"];
  if (typeof index !== "number") throw new Error("A content block event has no index.");
  return index;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
