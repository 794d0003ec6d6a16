import { randomBytes } from "node:crypto";

/*
 * Responses API objects built by the gateway itself, for providers that do not speak the
 * Responses API: a chat completion (what the Anthropic translation produces) becomes a Response,
 * and the streaming translator builds its snapshots with the same functions.
 */

type Json = Record<string, unknown>;

export type ResponseStatus = "in_progress" | "completed" | "incomplete" | "failed";

export type ResponseUsageFigures = {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
};

/** What the client asked for that a Response echoes back. */
export type ResponseEcho = {
  id: string;
  createdAt: number;
  model: string;
  request: Json;
  maxOutputTokens: number;
};

export const gatewayId = (prefix: string) => `${prefix}${randomBytes(16).toString("hex")}`;

export function responseEcho(request: Json, model: string, maxOutputTokens: number): ResponseEcho {
  return {
    id: gatewayId("resp_"),
    createdAt: Math.floor(Date.now() / 1000),
    model,
    request,
    maxOutputTokens,
  };
}

export function responsesUsage(usage: ResponseUsageFigures) {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cachedInputTokens },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

const orNull = (value: unknown) => (value === undefined ? null : value);

export function responseObject(
  echo: ResponseEcho,
  state: {
    status: ResponseStatus;
    output: Json[];
    usage: ResponseUsageFigures | null;
    incompleteReason?: string | null;
    error?: { code: string; message: string } | null;
  },
): Json {
  const { request } = echo;
  return {
    id: echo.id,
    object: "response",
    created_at: echo.createdAt,
    status: state.status,
    background: false,
    error: state.error ?? null,
    incomplete_details: state.incompleteReason ? { reason: state.incompleteReason } : null,
    instructions: orNull(request["instructions"]),
    max_output_tokens: echo.maxOutputTokens,
    metadata: request["metadata"] ?? {},
    model: echo.model,
    output: state.output,
    parallel_tool_calls: request["parallel_tool_calls"] ?? true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    // Nothing is stored: a translated response cannot be retrieved or chained later.
    store: false,
    temperature: request["temperature"] ?? 1,
    text: { format: { type: "text" } },
    tool_choice: request["tool_choice"] ?? "auto",
    tools: request["tools"] ?? [],
    top_p: request["top_p"] ?? 1,
    truncation: "disabled",
    usage: state.usage ? responsesUsage(state.usage) : null,
    user: orNull(request["user"]),
  };
}

export const outputTextPart = (text: string) => ({
  type: "output_text",
  text,
  annotations: [],
  logprobs: [],
});

export function messageItem(id: string, text: string, status: string): Json {
  return { id, type: "message", status, role: "assistant", content: [outputTextPart(text)] };
}

export function functionCallItem(
  id: string,
  call: { callId: string; name: string; arguments: string },
  status: string,
): Json {
  return {
    id,
    type: "function_call",
    status,
    call_id: call.callId,
    name: call.name,
    arguments: call.arguments,
  };
}

/** Chat's finish_reason as a Response's status and incomplete reason. */
export function statusOf(finishReason: unknown): {
  status: "completed" | "incomplete";
  incompleteReason: string | null;
} {
  if (finishReason === "length")
    return { status: "incomplete", incompleteReason: "max_output_tokens" };
  if (finishReason === "content_filter") {
    return { status: "incomplete", incompleteReason: "content_filter" };
  }
  return { status: "completed", incompleteReason: null };
}

type ChatAnswer = {
  choices?: {
    message?: {
      content?: unknown;
      tool_calls?: { id?: unknown; function?: { name?: unknown; arguments?: unknown } }[];
    };
    finish_reason?: unknown;
  }[];
};

/** A non-streamed chat completion as a Response, charged at `usage`. */
export function chatCompletionToResponse(
  answer: ChatAnswer,
  echo: ResponseEcho,
  usage: ResponseUsageFigures,
): Json {
  const choice = answer.choices?.[0];
  const { status, incompleteReason } = statusOf(choice?.finish_reason);
  const itemStatus = status === "completed" ? "completed" : "incomplete";
  const output: Json[] = [];
  const content = choice?.message?.content;
  if (typeof content === "string" && content !== "") {
    output.push(messageItem(gatewayId("msg_"), content, itemStatus));
  }
  for (const call of choice?.message?.tool_calls ?? []) {
    output.push(
      functionCallItem(
        gatewayId("fc_"),
        {
          callId: String(call.id),
          name: String(call.function?.name),
          arguments: typeof call.function?.arguments === "string" ? call.function.arguments : "{}",
        },
        itemStatus,
      ),
    );
  }
  return responseObject(echo, { status, output, usage, incompleteReason });
}
