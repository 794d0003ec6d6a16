import { createHash } from "node:crypto";
import type { Behaviour } from "./behaviour.ts";
import { type Completion, type CompletionEnd, planCompletion } from "./completion.ts";
import { isPositiveInteger, isRecord, type JsonRecord } from "./guards.ts";
import { vendorId } from "./ids.ts";
import type { SseEvent } from "./sse-encoding.ts";
import { embeddingTokens, promptTokens } from "./tokens.ts";
import {
  type JsonReply,
  jsonReply,
  type Reply,
  retryAfterHeaders,
  type WireRequest,
} from "./wire.ts";

// The OpenAI wire format, in the shapes the official `openai` SDK (v6) parses.

export type OpenAIEndpoint = "chat" | "embeddings" | "models";

const finishReasons: Record<CompletionEnd, string> = {
  natural: "stop",
  stop_sequence: "stop",
  length: "length",
  tool: "tool_calls",
};

const defaultEmbeddingDimensions = 16;
const maxEmbeddingDimensions = 4096;
const maxChoices = 128;

export function handleOpenAI(endpoint: OpenAIEndpoint, request: WireRequest): Reply {
  const refusal = refuse(request);
  if (refusal) return refusal;
  if (endpoint === "models") return listModels(request);
  if (request.bodyInvalid) {
    return openaiError(400, "We could not parse the JSON body of your request.", request.behaviour);
  }
  return endpoint === "chat" ? chatCompletion(request) : embeddings(request);
}

export function openaiError(
  status: number,
  message: string,
  behaviour: Behaviour,
  param: string | null = null,
): JsonReply {
  const [type, code] = errorKind(status);
  return jsonReply(
    status,
    { error: { message, type, param, code } },
    { ...requestIdHeader(), ...retryAfterHeaders(behaviour) },
  );
}

function errorKind(status: number): [string, string | null] {
  if (status === 401) return ["invalid_request_error", "invalid_api_key"];
  if (status === 403) return ["permission_error", null];
  if (status === 404) return ["invalid_request_error", "not_found"];
  if (status === 429) return ["requests", "rate_limit_exceeded"];
  if (status >= 500) return ["server_error", null];
  return ["invalid_request_error", null];
}

// Checks a real upstream makes before looking at the body: credentials, then scripted errors.
export function refuse(request: WireRequest): JsonReply | null {
  const { behaviour } = request;
  const key = /^Bearer\s+(\S+)$/i.exec(request.headers["authorization"] ?? "")?.[1];
  if (!key) {
    return openaiError(
      401,
      "You didn't provide an API key in the Authorization header.",
      behaviour,
    );
  }
  if (behaviour.authFail) {
    return openaiError(401, "Incorrect API key provided.", behaviour);
  }
  if (behaviour.status !== undefined) {
    const message = behaviour.errorMessage ?? `Scripted upstream error ${behaviour.status}`;
    return openaiError(behaviour.status, message, behaviour);
  }
  return null;
}

export function requestIdHeader(): Record<string, string> {
  return { "x-request-id": vendorId("req_") };
}

function listModels(request: WireRequest): Reply {
  const data = request.knownModels.map((id) => ({
    id,
    object: "model",
    created: 1_700_000_000,
    owned_by: "fake-provider",
  }));
  return jsonReply(200, { object: "list", data }, requestIdHeader());
}

type ChatParams = {
  model: string;
  messages: unknown[];
  n: number;
  stream: boolean;
  includeUsage: boolean;
  maxTokens: number | null;
  stop: string[];
  toolsOffered: boolean;
};

function readChatParams(body: unknown): ChatParams | { error: string; param: string | null } {
  if (!isRecord(body)) return { error: "The request body must be a JSON object.", param: null };
  const { model, messages, n, stream, stream_options: streamOptions, stop, tools } = body;
  if (typeof model !== "string" || model === "") {
    return { error: "you must provide a model parameter", param: "model" };
  }
  if (!Array.isArray(messages) || messages.length === 0) {
    return { error: "'messages' must be a non-empty array.", param: "messages" };
  }
  if (n != null && !(isPositiveInteger(n) && n <= maxChoices)) {
    return { error: `'n' must be an integer from 1 to ${maxChoices}.`, param: "n" };
  }
  let maxTokens: number | null = null;
  for (const param of ["max_tokens", "max_completion_tokens"] as const) {
    const value = body[param];
    if (value == null) continue;
    if (!isPositiveInteger(value)) return { error: `'${param}' must be at least 1.`, param };
    maxTokens = Math.min(maxTokens ?? value, value);
  }
  return {
    model,
    messages,
    n: n ?? 1,
    stream: stream === true,
    includeUsage:
      stream === true && isRecord(streamOptions) && streamOptions["include_usage"] === true,
    maxTokens,
    stop: typeof stop === "string" ? [stop] : Array.isArray(stop) ? stop.filter(isString) : [],
    toolsOffered: Array.isArray(tools) && tools.length > 0,
  };
}

const isString = (value: unknown): value is string => typeof value === "string";

// Text of one chat message: a string content or the text parts of an array content.
export function openaiMessageText(message: unknown): string {
  if (!isRecord(message)) return "";
  const { content } = message;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) => (isRecord(part) && isString(part["text"]) ? part["text"] : ""))
    .join("");
}

type Usage = {
  prompt_tokens?: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number };
};

function usageFor(behaviour: Behaviour, prompt: number, completion: number): Usage {
  const override = behaviour.usageOverride;
  const promptTokensReported = override?.prompt_tokens ?? prompt;
  const completionTokensReported = override?.completion_tokens ?? completion;
  return {
    ...(behaviour.omitPromptTokens ? {} : { prompt_tokens: promptTokensReported }),
    completion_tokens: completionTokensReported,
    total_tokens: promptTokensReported + completionTokensReported,
    ...(override?.cached_tokens === undefined
      ? {}
      : { prompt_tokens_details: { cached_tokens: override.cached_tokens } }),
    ...(override?.reasoning_tokens === undefined
      ? {}
      : { completion_tokens_details: { reasoning_tokens: override.reasoning_tokens } }),
  };
}

export function completionTokens(completion: Completion): number {
  return completion.kind === "text" ? completion.tokens.length : completion.tokens;
}

function chatCompletion(request: WireRequest): Reply {
  const { behaviour } = request;
  const params = readChatParams(request.body);
  if ("error" in params) return openaiError(400, params.error, behaviour, params.param);
  if (behaviour.badJson) return badJson(params.stream);

  const completion = planCompletion(behaviour, params);
  const usage = usageFor(
    behaviour,
    promptTokens(params.messages.map(openaiMessageText)),
    completionTokens(completion) * params.n,
  );
  const shared = {
    id: vendorId("chatcmpl-"),
    created: Math.floor(Date.now() / 1000),
    model: params.model,
    system_fingerprint: "fp_fake",
  };
  const callIds = Array.from({ length: params.n }, () => vendorId("call_"));
  const headers = requestIdHeader();

  if (!params.stream) {
    const choices = callIds.map((callId, index) => ({
      index,
      message: assistantMessage(completion, callId),
      logprobs: null,
      finish_reason: finishReasons[completion.end],
    }));
    const body = { ...shared, object: "chat.completion", choices };
    return jsonReply(200, behaviour.omitUsage ? body : { ...body, usage }, headers);
  }

  // With include_usage the real API sends `usage: null` on every chunk before the last.
  const withUsage = params.includeUsage && !behaviour.omitUsage;
  const chunk = (choices: unknown[]) =>
    JSON.stringify({
      ...shared,
      object: "chat.completion.chunk",
      choices,
      ...(withUsage ? { usage: null } : {}),
    });
  const delta = (index: number, value: JsonRecord, finish: string | null = null) => ({
    index,
    delta: value,
    logprobs: null,
    finish_reason: finish,
  });

  const events: SseEvent[] = [];
  for (const [index, callId] of callIds.entries()) {
    const first =
      completion.kind === "text"
        ? { role: "assistant", content: "" }
        : {
            role: "assistant",
            content: null,
            tool_calls: [
              {
                index: 0,
                id: callId,
                type: "function",
                function: { name: completion.name, arguments: "" },
              },
            ],
          };
    events.push({ data: chunk([delta(index, first)]) });
  }
  // Choices interleave token by token, one choice per chunk, as the real API does for n > 1.
  const pieces = completion.kind === "text" ? completion.tokens : completion.argumentPieces;
  for (const piece of pieces) {
    for (const index of callIds.keys()) {
      const value =
        completion.kind === "text"
          ? { content: piece }
          : { tool_calls: [{ index: 0, function: { arguments: piece } }] };
      events.push({ data: chunk([delta(index, value)]) });
    }
  }
  for (const index of callIds.keys()) {
    events.push({ data: chunk([delta(index, {}, finishReasons[completion.end])]) });
  }
  if (withUsage) {
    events.push({
      data: JSON.stringify({ ...shared, object: "chat.completion.chunk", choices: [], usage }),
    });
  }
  events.push({ data: "[DONE]" });
  return { kind: "sse", headers, events };
}

function assistantMessage(completion: Completion, callId: string): JsonRecord {
  if (completion.kind === "text") {
    return { role: "assistant", content: completion.text, refusal: null, annotations: [] };
  }
  return {
    role: "assistant",
    content: null,
    refusal: null,
    annotations: [],
    tool_calls: [
      {
        id: callId,
        type: "function",
        function: { name: completion.name, arguments: completion.arguments },
      },
    ],
  };
}

// A 200 whose body is cut off mid-value: what a broken upstream or middlebox produces.
function badJson(stream: boolean): Reply {
  const broken =
    '{"id":"chatcmpl-broken","object":"chat.completion","choices":[{"index":0,"message":{"role":"assist';
  if (!stream) return { kind: "json", status: 200, headers: requestIdHeader(), body: broken };
  return {
    kind: "sse",
    headers: requestIdHeader(),
    events: [{ data: broken }, { data: "[DONE]" }],
  };
}

function embeddings(request: WireRequest): Reply {
  const { behaviour, body } = request;
  if (!isRecord(body))
    return openaiError(400, "The request body must be a JSON object.", behaviour);
  const { model, input, dimensions, encoding_format: encodingFormat } = body;
  if (typeof model !== "string" || model === "") {
    return openaiError(400, "you must provide a model parameter", behaviour, "model");
  }
  const inputs = embeddingInputs(input);
  if (!inputs) {
    return openaiError(400, "'input' must be a non-empty string or array.", behaviour, "input");
  }
  if (
    dimensions != null &&
    !(isPositiveInteger(dimensions) && dimensions <= maxEmbeddingDimensions)
  ) {
    return openaiError(400, "'dimensions' is out of range.", behaviour, "dimensions");
  }
  if (encodingFormat != null && encodingFormat !== "float" && encodingFormat !== "base64") {
    return openaiError(
      400,
      "'encoding_format' must be float or base64.",
      behaviour,
      "encoding_format",
    );
  }
  if (behaviour.badJson) return badJson(false);

  const size = dimensions ?? defaultEmbeddingDimensions;
  const data = inputs.map((item, index) => {
    const vector = embeddingVector(model, item, size);
    return {
      object: "embedding",
      index,
      // The SDK asks for base64 by default and decodes little-endian float32.
      embedding:
        encodingFormat === "base64"
          ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("base64")
          : Array.from(vector),
    };
  });
  const prompt = inputs.reduce((sum, item) => sum + embeddingTokens(item), 0);
  const reported = behaviour.usageOverride?.prompt_tokens ?? prompt;
  const response = { object: "list", data, model };
  return jsonReply(
    200,
    behaviour.omitUsage
      ? response
      : { ...response, usage: { prompt_tokens: reported, total_tokens: reported } },
    requestIdHeader(),
  );
}

function embeddingInputs(input: unknown): (string | number[])[] | null {
  const isTokenArray = (value: unknown): value is number[] =>
    Array.isArray(value) && value.length > 0 && value.every((item) => Number.isInteger(item));
  if (typeof input === "string") return [input];
  if (isTokenArray(input)) return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every(isString)) return input;
  if (input.every(isTokenArray)) return input;
  return null;
}

// Deterministic per (model, input): equal inputs embed equally, different ones differently.
// Unit length, like the real models, so cosine similarity is a plain dot product.
export function embeddingVector(model: string, input: string | readonly number[], size: number) {
  const seed = `${model}\u0000${typeof input === "string" ? input : JSON.stringify(input)}`;
  const vector = new Float32Array(size);
  let block = Buffer.alloc(0);
  for (let i = 0; i < size; i++) {
    const offset = (i * 4) % 32;
    if (offset === 0) block = createHash("sha256").update(`${seed}\u0000${i}`).digest();
    vector[i] = block.readUInt32LE(offset) / 0x80000000 - 1;
  }
  const norm = Math.hypot(...vector) || 1;
  for (let i = 0; i < size; i++) vector[i] = vector[i]! / norm;
  return vector;
}
