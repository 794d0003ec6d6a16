import type { Behaviour } from "./behaviour.ts";
import { type Completion, type CompletionEnd, planCompletion } from "./completion.ts";
import { isPositiveInteger, isRecord } from "./guards.ts";
import { vendorId } from "./ids.ts";
import type { SseEvent } from "./sse-encoding.ts";
import { promptTokens } from "./tokens.ts";
import {
  type JsonReply,
  jsonReply,
  type Reply,
  retryAfterHeaders,
  type WireRequest,
} from "./wire.ts";

// The Anthropic Messages wire format (`POST /v1/messages`, anthropic-version 2023-06-01).

const stopReasons: Record<CompletionEnd, string> = {
  natural: "end_turn",
  stop_sequence: "stop_sequence",
  length: "max_tokens",
  tool: "tool_use",
};

export function handleAnthropic(endpoint: "messages" | "models", request: WireRequest): Reply {
  const refusal = refuse(request);
  if (refusal) return refusal;
  if (endpoint === "models") return listModels(request);
  if (request.bodyInvalid) {
    return anthropicError(
      400,
      "There was an issue with the request body: invalid JSON.",
      request.behaviour,
    );
  }
  return messages(request);
}

export function anthropicError(status: number, message: string, behaviour: Behaviour): JsonReply {
  return jsonReply(
    status,
    { type: "error", error: { type: errorType(status), message } },
    { ...requestIdHeader(), ...retryAfterHeaders(behaviour) },
  );
}

function errorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status === 529) return "overloaded_error";
  if (status >= 500) return "api_error";
  return "invalid_request_error";
}

function requestIdHeader(): Record<string, string> {
  return { "request-id": vendorId("req_") };
}

function refuse(request: WireRequest): JsonReply | null {
  const { behaviour, headers } = request;
  if (!headers["x-api-key"]) return anthropicError(401, "x-api-key header is required", behaviour);
  if (behaviour.authFail) return anthropicError(401, "invalid x-api-key", behaviour);
  if (!headers["anthropic-version"]) {
    return anthropicError(400, "anthropic-version: header is required", behaviour);
  }
  if (behaviour.status !== undefined) {
    const message = behaviour.errorMessage ?? `Scripted upstream error ${behaviour.status}`;
    return anthropicError(behaviour.status, message, behaviour);
  }
  return null;
}

function listModels(request: WireRequest): Reply {
  const data = request.knownModels.map((id) => ({
    type: "model",
    id,
    display_name: id,
    created_at: "2025-01-01T00:00:00Z",
  }));
  return jsonReply(
    200,
    { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null },
    requestIdHeader(),
  );
}

// Text of a system prompt or message content: a string, or its text and tool_result blocks.
export function anthropicContentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((block) => {
      if (!isRecord(block)) return "";
      if (block["type"] === "text" && typeof block["text"] === "string") return block["text"];
      if (block["type"] === "tool_result") return anthropicContentText(block["content"]);
      return "";
    })
    .join("");
}

function messages(request: WireRequest): Reply {
  const { behaviour, body } = request;
  const invalid = (message: string) => anthropicError(400, message, behaviour);
  if (!isRecord(body)) return invalid("The request body must be a JSON object.");
  const { model, messages: turns, max_tokens: maxTokens, system, stream, stop_sequences } = body;
  if (typeof model !== "string" || model === "") return invalid("model: Field required");
  if (maxTokens === undefined) return invalid("max_tokens: Field required");
  if (!isPositiveInteger(maxTokens))
    return invalid("max_tokens: Input should be greater than or equal to 1");
  if (!Array.isArray(turns) || turns.length === 0)
    return invalid("messages: at least one message is required");
  if (behaviour.badJson) return badJson(stream === true);

  const texts = turns.map((turn) => (isRecord(turn) ? anthropicContentText(turn["content"]) : ""));
  if (system !== undefined) texts.unshift(anthropicContentText(system));
  const completion = planCompletion(behaviour, {
    maxTokens,
    stop: Array.isArray(stop_sequences)
      ? stop_sequences.filter((stop): stop is string => typeof stop === "string")
      : [],
    toolsOffered: Array.isArray(body["tools"]) && body["tools"].length > 0,
  });
  const input = behaviour.usageOverride?.prompt_tokens ?? promptTokens(texts);
  const output =
    behaviour.usageOverride?.completion_tokens ??
    (completion.kind === "text" ? completion.tokens.length : completion.tokens);
  const id = vendorId("msg_");
  const toolUseId = vendorId("toolu_");
  const stopReason = stopReasons[completion.end];
  const stopSequence = completion.kind === "text" ? completion.stopSequence : null;
  // Anthropic reports cache reads apart from input_tokens; the override's cached share moves there.
  const cached = Math.min(input, behaviour.usageOverride?.cached_tokens ?? 0);
  const usage = (inputTokens: number, outputTokens: number) =>
    behaviour.omitUsage
      ? {}
      : {
          usage: {
            input_tokens: inputTokens - cached,
            output_tokens: outputTokens,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: cached,
          },
        };
  const envelope = { id, type: "message", role: "assistant", model };

  if (stream !== true) {
    return jsonReply(
      200,
      {
        ...envelope,
        content: [contentBlock(completion, toolUseId)],
        stop_reason: stopReason,
        stop_sequence: stopSequence,
        ...usage(input, output),
      },
      requestIdHeader(),
    );
  }

  const event = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: JSON.stringify({ type, ...data }),
  });
  const events: SseEvent[] = [
    // The real API reports a provisional output count of 1 here; the final figure arrives in
    // message_delta and replaces it, so a client must not add the two.
    event("message_start", {
      message: {
        ...envelope,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        ...usage(input, 1),
      },
    }),
    event("content_block_start", {
      index: 0,
      content_block:
        completion.kind === "text"
          ? { type: "text", text: "" }
          : { type: "tool_use", id: toolUseId, name: completion.name, input: {} },
    }),
    event("ping", {}),
  ];
  const pieces = completion.kind === "text" ? completion.tokens : completion.argumentPieces;
  for (const piece of pieces) {
    events.push(
      event("content_block_delta", {
        index: 0,
        delta:
          completion.kind === "text"
            ? { type: "text_delta", text: piece }
            : { type: "input_json_delta", partial_json: piece },
      }),
    );
  }
  events.push(
    event("content_block_stop", { index: 0 }),
    event("message_delta", {
      delta: { stop_reason: stopReason, stop_sequence: stopSequence },
      ...(behaviour.omitUsage ? {} : { usage: { output_tokens: output } }),
    }),
    event("message_stop", {}),
  );
  if (behaviour.streamError !== undefined) {
    // The real API reports an overload met mid-answer this way, after a 200 and some content.
    events.splice(3 + Math.floor(pieces.length / 2));
    events.push(
      event("error", { error: { type: "overloaded_error", message: behaviour.streamError } }),
    );
  }
  return { kind: "sse", headers: requestIdHeader(), events };
}

function contentBlock(completion: Completion, toolUseId: string): Record<string, unknown> {
  if (completion.kind === "text") return { type: "text", text: completion.text };
  return {
    type: "tool_use",
    id: toolUseId,
    name: completion.name,
    input: toolInput(completion.arguments),
  };
}

// `input` must be an object; arguments cut short by max_tokens are not one, as upstream.
function toolInput(argumentsJson: string): unknown {
  try {
    const value: unknown = JSON.parse(argumentsJson);
    return isRecord(value) ? value : {};
  } catch {
    return {};
  }
}

function badJson(stream: boolean): Reply {
  const broken = '{"id":"msg_broken","type":"message","role":"assistant","content":[{"type":"te';
  if (!stream) return { kind: "json", status: 200, headers: requestIdHeader(), body: broken };
  return {
    kind: "sse",
    headers: requestIdHeader(),
    events: [{ event: "message_start", data: broken }],
  };
}
