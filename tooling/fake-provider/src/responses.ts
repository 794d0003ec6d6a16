import type { Behaviour } from "./behaviour.ts";
import { type Completion, planCompletion } from "./completion.ts";
import { isPositiveInteger, isRecord, type JsonRecord } from "./guards.ts";
import { vendorId } from "./ids.ts";
import {
  completionTokens,
  openaiError,
  openaiMessageText,
  refuse,
  requestIdHeader,
} from "./openai.ts";
import type { ResponseStore } from "./response-store.ts";
import type { SseEvent } from "./sse-encoding.ts";
import { promptTokens } from "./tokens.ts";
import { jsonReply, type Reply, type WireRequest } from "./wire.ts";

// The OpenAI Responses API (`/v1/responses`), in the shapes the official `openai` SDK (v6) parses
// and its `responses.stream` helper accumulates.

export type ResponsesEndpoint =
  | "responses.create"
  | "responses.get"
  | "responses.delete"
  | "responses.cancel";

export function handleResponses(
  endpoint: ResponsesEndpoint,
  responseId: string | null,
  request: WireRequest,
  store: ResponseStore,
): Reply {
  const refusal = refuse(request);
  if (refusal) return refusal;
  if (endpoint === "responses.create") {
    if (request.bodyInvalid) {
      return openaiError(
        400,
        "We could not parse the JSON body of your request.",
        request.behaviour,
      );
    }
    return createResponse(request, store);
  }
  const stored = responseId === null ? undefined : store.get(responseId);
  if (!stored) {
    return openaiError(404, `No response found with id '${responseId}'.`, request.behaviour);
  }
  if (endpoint === "responses.get") return jsonReply(200, stored, requestIdHeader());
  if (endpoint === "responses.delete") {
    store.delete(stored["id"] as string);
    return jsonReply(
      200,
      { id: stored["id"], object: "response", deleted: true },
      requestIdHeader(),
    );
  }
  if (stored["background"] !== true) {
    return openaiError(
      400,
      "Only responses created with background=true can be cancelled.",
      request.behaviour,
    );
  }
  const cancelled = { ...stored, id: String(stored["id"]), status: "cancelled" };
  store.put(cancelled);
  return jsonReply(200, cancelled, requestIdHeader());
}

type CreateParams = {
  model: string;
  texts: string[];
  previousTokens: number;
  stream: boolean;
  background: boolean;
  store: boolean;
  maxTokens: number | null;
  toolsOffered: boolean;
};

type Invalid = { error: string; param: string | null; status?: number };

function readCreateParams(body: unknown, store: ResponseStore): CreateParams | Invalid {
  if (!isRecord(body)) return { error: "The request body must be a JSON object.", param: null };
  const { model, input, instructions, previous_response_id: previous } = body;
  if (typeof model !== "string" || model === "") {
    return { error: "you must provide a model parameter", param: "model" };
  }
  const inputs = inputTexts(input);
  if (inputs === null) {
    return { error: "'input' must be a string or a non-empty array of items.", param: "input" };
  }
  if (instructions != null && typeof instructions !== "string") {
    return { error: "'instructions' must be a string.", param: "instructions" };
  }
  let previousTokens = 0;
  if (previous != null) {
    const found = typeof previous === "string" ? store.get(previous) : undefined;
    if (!found) {
      return {
        error: `Previous response with id '${String(previous)}' not found.`,
        param: "previous_response_id",
        status: 404,
      };
    }
    // The earlier turn's whole context (its input and output) is part of this one's input.
    const usage = found["usage"];
    previousTokens =
      isRecord(usage) && typeof usage["total_tokens"] === "number" ? usage["total_tokens"] : 0;
  }
  const maxTokens = body["max_output_tokens"];
  if (maxTokens != null && !isPositiveInteger(maxTokens)) {
    return { error: "'max_output_tokens' must be at least 1.", param: "max_output_tokens" };
  }
  const tools = body["tools"];
  return {
    model,
    texts: typeof instructions === "string" ? [instructions, ...inputs] : inputs,
    previousTokens,
    stream: body["stream"] === true,
    background: body["background"] === true,
    store: body["store"] !== false,
    maxTokens: maxTokens ?? null,
    toolsOffered:
      Array.isArray(tools) && tools.some((tool) => isRecord(tool) && tool["type"] === "function"),
  };
}

// One text per input item, counted like a chat message: a message's text parts, a tool
// result's output. Function calls echoed back and other items count nothing.
function inputTexts(input: unknown): string[] | null {
  if (typeof input === "string") return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  return input.map((item) => {
    if (!isRecord(item)) return "";
    if (item["type"] === "function_call_output") {
      const output = item["output"];
      return typeof output === "string" ? output : openaiMessageText({ content: output });
    }
    return openaiMessageText(item);
  });
}

type Usage = {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
};

function usageFor(behaviour: Behaviour, input: number, output: number): Usage | null {
  if (behaviour.omitUsage) return null;
  const override = behaviour.usageOverride;
  const inputTokens = override?.prompt_tokens ?? input;
  const outputTokens = override?.completion_tokens ?? output;
  return {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: override?.cached_tokens ?? 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: override?.reasoning_tokens ?? 0 },
    total_tokens: inputTokens + outputTokens,
  };
}

type Status = "completed" | "incomplete" | "failed";

function createResponse(request: WireRequest, store: ResponseStore): Reply {
  const { behaviour, body } = request;
  const params = readCreateParams(body, store);
  if ("error" in params) {
    return openaiError(params.status ?? 400, params.error, behaviour, params.param);
  }
  if (behaviour.badJson) return badJson(params.stream);
  const echo = body as JsonRecord;
  const envelope: JsonRecord & { id: string } = {
    id: vendorId("resp_"),
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    status: "in_progress",
    background: params.background,
    error: null,
    incomplete_details: null,
    instructions: echo["instructions"] ?? null,
    max_output_tokens: params.maxTokens,
    metadata: echo["metadata"] ?? {},
    model: params.model,
    output: [],
    parallel_tool_calls: echo["parallel_tool_calls"] ?? true,
    previous_response_id: echo["previous_response_id"] ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: "default",
    store: params.store,
    temperature: echo["temperature"] ?? 1,
    text: { format: { type: "text" } },
    tool_choice: echo["tool_choice"] ?? "auto",
    tools: echo["tools"] ?? [],
    top_p: echo["top_p"] ?? 1,
    truncation: "disabled",
    usage: null,
    user: null,
  };

  if (params.background) {
    // Queued and never run: enough for a gateway to forward, retrieve and cancel it.
    const queued = { ...envelope, status: "queued" };
    if (params.store) store.put(queued);
    return jsonReply(200, queued, requestIdHeader());
  }

  const completion = planCompletion(behaviour, { ...params, stop: [] });
  const status: Status = behaviour.failed
    ? "failed"
    : completion.end === "length"
      ? "incomplete"
      : "completed";
  const item = outputItem(completion, status === "incomplete" ? "incomplete" : "completed");
  const final: JsonRecord & { id: string } = {
    ...envelope,
    status,
    error:
      status === "failed"
        ? {
            code: "server_error",
            message: behaviour.errorMessage ?? "The model failed to generate a response.",
          }
        : null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    output: [item],
    usage: usageFor(
      behaviour,
      promptTokens(params.texts) + params.previousTokens,
      completionTokens(completion),
    ),
  };
  if (params.store) store.put(final);
  if (!params.stream) return jsonReply(200, final, requestIdHeader());
  return {
    kind: "sse",
    headers: requestIdHeader(),
    events: streamEvents(envelope, final, completion),
  };
}

function outputItem(completion: Completion, status: "completed" | "incomplete"): JsonRecord {
  if (completion.kind === "text") {
    return {
      id: vendorId("msg_"),
      type: "message",
      status,
      role: "assistant",
      content: [textPart(completion.text)],
    };
  }
  return {
    id: vendorId("fc_"),
    type: "function_call",
    status,
    call_id: vendorId("call_"),
    name: completion.name,
    arguments: completion.arguments,
  };
}

const textPart = (text: string) => ({ type: "output_text", text, annotations: [], logprobs: [] });

// The real API's event order for one output item, each event named in an `event:` line and
// numbered by sequence_number.
function streamEvents(envelope: JsonRecord, final: JsonRecord, completion: Completion) {
  const events: SseEvent[] = [];
  const emit = (type: string, data: JsonRecord) =>
    events.push({
      event: type,
      data: JSON.stringify({ type, sequence_number: events.length, ...data }),
    });
  const item = (final["output"] as JsonRecord[])[0]!;
  const itemId = item["id"];
  const at = { item_id: itemId, output_index: 0 };
  emit("response.created", { response: envelope });
  emit("response.in_progress", { response: envelope });
  if (completion.kind === "text") {
    emit("response.output_item.added", {
      output_index: 0,
      item: { ...item, status: "in_progress", content: [] },
    });
    emit("response.content_part.added", { ...at, content_index: 0, part: textPart("") });
    for (const token of completion.tokens) {
      emit("response.output_text.delta", { ...at, content_index: 0, delta: token, logprobs: [] });
    }
    emit("response.output_text.done", {
      ...at,
      content_index: 0,
      text: completion.text,
      logprobs: [],
    });
    emit("response.content_part.done", {
      ...at,
      content_index: 0,
      part: textPart(completion.text),
    });
  } else {
    emit("response.output_item.added", {
      output_index: 0,
      item: { ...item, status: "in_progress", arguments: "" },
    });
    for (const piece of completion.argumentPieces) {
      emit("response.function_call_arguments.delta", { ...at, delta: piece });
    }
    emit("response.function_call_arguments.done", {
      ...at,
      name: completion.name,
      arguments: completion.arguments,
    });
  }
  emit("response.output_item.done", { output_index: 0, item });
  emit(`response.${final["status"] as Status}`, { response: final });
  return events;
}

function badJson(stream: boolean): Reply {
  const broken = '{"id":"resp_broken","object":"response","status":"completed","output":[{"ty';
  if (!stream) return { kind: "json", status: 200, headers: requestIdHeader(), body: broken };
  return {
    kind: "sse",
    headers: requestIdHeader(),
    events: [{ event: "response.created", data: broken }],
  };
}
