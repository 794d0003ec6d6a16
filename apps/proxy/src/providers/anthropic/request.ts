import type { AnthropicRequestResult, TranslateRequestOptions } from "./contract.ts";
import { type Block, isRecord, Refusal, unsupported } from "./wire.ts";

/*
 * The client's OpenAI Chat Completions body as an Anthropic Messages request
 * (anthropic-version 2023-06-01). Pure: no I/O.
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

type Turn = { role: "user" | "assistant"; content: Block[] };

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
