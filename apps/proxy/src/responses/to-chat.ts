/*
 * Pure translation of a Responses API request into the Chat Completions request that the
 * Anthropic translation (providers/anthropic.ts) already understands, so Anthropic-kind
 * providers serve /v1/responses through the same path as /v1/chat/completions.
 *
 * Decided once, so a client never gets a silently different answer:
 * - translated: input (a string, or message / function_call / function_call_output items with
 *   input_text, input_image by URL or data: URL, output_text and refusal parts), instructions
 *   (→ a leading system message), function tools, tool_choice, parallel_tool_calls,
 *   temperature, top_p, user, safety_identifier.
 * - replaced by the gateway: model, stream, max_output_tokens (the bound it reserved for).
 * - dropped, because they change nothing in the answer: store, metadata, prompt_cache_key,
 *   stream_options, and fields holding their no-op default (background false, truncation
 *   "disabled", include [], text.format "text", reasoning null / {}, top_logprobs 0,
 *   service_tier "auto" / "default").
 * - refused with a 400 naming the field: everything else, notably hosted tools (web search,
 *   file search, code interpreter, computer use, MCP, image generation), previous_response_id
 *   and conversation (the context lives at OpenAI), background, prompt templates, reasoning
 *   options, structured output formats, include, max_tool_calls, truncation "auto", files,
 *   audio, file_id images, reasoning and other non-message items.
 */

import { isRecord, Refusal, unsupported } from "../providers/anthropic/wire.ts";

export type ChatRequestResult =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; param: string; message: string };

type Json = Record<string, unknown>;

const gatewayFields = new Set(["model", "stream", "max_output_tokens"]);
const droppedFields = new Set(["store", "metadata", "prompt_cache_key", "stream_options"]);
const passedToChat = new Set([
  "temperature",
  "top_p",
  "parallel_tool_calls",
  "user",
  "safety_identifier",
]);
const translatedFields = new Set(["input", "instructions", "tools", "tool_choice"]);

function isNoOpDefault(field: string, value: unknown): boolean {
  switch (field) {
    case "background":
      return value === false;
    case "truncation":
      return value === "disabled";
    case "include":
      return Array.isArray(value) && value.length === 0;
    case "text": {
      const format = isRecord(value) ? value["format"] : undefined;
      return (
        isRecord(value) &&
        Object.keys(value).every((key) => key === "format") &&
        (format === undefined || (isRecord(format) && format["type"] === "text"))
      );
    }
    case "reasoning":
      return isRecord(value) && Object.values(value).every((v) => v === null || v === undefined);
    case "top_logprobs":
      return value === 0;
    case "service_tier":
      return value === "auto" || value === "default";
    default:
      return false;
  }
}

export function responsesToChatRequest(body: Json): ChatRequestResult {
  try {
    return { ok: true, body: translate(body) };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, param: err.param, message: err.message };
    throw err;
  }
}

function translate(body: Json): Json {
  for (const [field, value] of Object.entries(body)) {
    if (value === null || value === undefined) continue;
    if (gatewayFields.has(field) || droppedFields.has(field)) continue;
    if (passedToChat.has(field) || translatedFields.has(field)) continue;
    if (isNoOpDefault(field, value)) continue;
    throw unsupported(field);
  }
  const messages: Json[] = [];
  const instructions = body["instructions"];
  if (instructions !== undefined && instructions !== null) {
    if (typeof instructions !== "string") {
      throw new Refusal("instructions", "instructions must be a string.");
    }
    messages.push({ role: "system", content: instructions });
  }
  messages.push(...inputMessages(body["input"]));

  const out: Json = { model: body["model"], messages };
  for (const field of passedToChat) {
    if (body[field] !== undefined && body[field] !== null) out[field] = body[field];
  }
  const tools = translateTools(body["tools"]);
  if (tools) out["tools"] = tools;
  const toolChoice = translateToolChoice(body["tool_choice"]);
  if (toolChoice !== null) out["tool_choice"] = toolChoice;
  return out;
}

function inputMessages(input: unknown): Json[] {
  if (typeof input === "string") return [{ role: "user", content: input }];
  if (!Array.isArray(input) || input.length === 0) {
    throw new Refusal("input", "input must be a string or a non-empty array of items.");
  }
  return input.map((item, i) => inputItem(item, `input[${i}]`));
}

function inputItem(item: unknown, where: string): Json {
  if (!isRecord(item)) throw new Refusal("input", `${where} must be an object.`);
  const type = item["type"] ?? "message";
  if (type === "message") return messageItem(item, where);
  if (type === "function_call") {
    const { call_id: callId, name, arguments: args } = item;
    if (typeof callId !== "string" || typeof name !== "string") {
      throw new Refusal("input", `${where} needs a call_id and a name.`);
    }
    return {
      role: "assistant",
      content: null,
      tool_calls: [{ id: callId, type: "function", function: { name, arguments: args ?? "{}" } }],
    };
  }
  if (type === "function_call_output") {
    const callId = item["call_id"];
    if (typeof callId !== "string") throw new Refusal("input", `${where}.call_id is required.`);
    return { role: "tool", tool_call_id: callId, content: toolOutput(item["output"], where) };
  }
  throw new Refusal(
    "input",
    `${where}: item type ${JSON.stringify(type)} is not supported for Anthropic models.`,
  );
}

function toolOutput(output: unknown, where: string): string {
  if (typeof output === "string") return output;
  if (Array.isArray(output)) {
    return output
      .map((part, j) => {
        if (isRecord(part) && part["type"] === "input_text" && typeof part["text"] === "string") {
          return part["text"];
        }
        throw new Refusal(
          "input",
          `${where}.output[${j}]: only input_text parts are supported for Anthropic models.`,
        );
      })
      .join("");
  }
  throw new Refusal("input", `${where}.output must be a string or an array of input_text parts.`);
}

const roles = new Set(["user", "assistant", "system", "developer"]);

function messageItem(item: Json, where: string): Json {
  const role = item["role"];
  if (typeof role !== "string" || !roles.has(role)) {
    throw new Refusal(
      "input",
      `${where}: role ${JSON.stringify(role)} is not supported for Anthropic models.`,
    );
  }
  const content = item["content"];
  if (typeof content === "string") return { role, content };
  if (!Array.isArray(content)) {
    throw new Refusal("input", `${where}.content must be a string or an array of parts.`);
  }
  return { role, content: content.map((part, j) => contentPart(part, `${where}.content[${j}]`)) };
}

function contentPart(part: unknown, where: string): Json {
  const type = isRecord(part) ? part["type"] : undefined;
  if (!isRecord(part) || typeof type !== "string") {
    throw new Refusal("input", `${where} must have a type.`);
  }
  if (type === "input_text" || type === "output_text") {
    if (typeof part["text"] !== "string") throw new Refusal("input", `${where}.text is required.`);
    return { type: "text", text: part["text"] };
  }
  if (type === "refusal" && typeof part["refusal"] === "string") {
    return { type: "text", text: part["refusal"] };
  }
  if (type === "input_image") {
    if (typeof part["image_url"] !== "string") {
      throw new Refusal(
        "input",
        `${where}: images by file_id are not supported for Anthropic models (use image_url).`,
      );
    }
    return { type: "image_url", image_url: { url: part["image_url"] } };
  }
  throw new Refusal(
    "input",
    `${where}: content part type ${JSON.stringify(type)} is not supported for Anthropic models.`,
  );
}

function translateTools(tools: unknown): Json[] | null {
  if (tools === undefined || tools === null) return null;
  if (!Array.isArray(tools)) throw new Refusal("tools", "tools must be an array.");
  if (tools.length === 0) return null;
  return tools.map((tool, i) => {
    const type = isRecord(tool) ? tool["type"] : undefined;
    if (!isRecord(tool) || type !== "function") {
      throw new Refusal(
        "tools",
        `tools[${i}]: the hosted tool ${JSON.stringify(type)} is not supported for Anthropic models; only function tools are.`,
      );
    }
    if (typeof tool["name"] !== "string" || tool["name"] === "") {
      throw new Refusal("tools", `tools[${i}].name is required.`);
    }
    const fn: Json = { name: tool["name"] };
    if (typeof tool["description"] === "string") fn["description"] = tool["description"];
    if (tool["parameters"] !== undefined && tool["parameters"] !== null) {
      fn["parameters"] = tool["parameters"];
    }
    return { type: "function", function: fn };
  });
}

function translateToolChoice(choice: unknown): unknown {
  if (choice === undefined || choice === null) return null;
  if (choice === "auto" || choice === "none" || choice === "required") return choice;
  if (isRecord(choice) && choice["type"] === "function" && typeof choice["name"] === "string") {
    return { type: "function", function: { name: choice["name"] } };
  }
  throw new Refusal(
    "tool_choice",
    'tool_choice must be "auto", "none", "required" or {type: "function", name} for Anthropic models.',
  );
}
