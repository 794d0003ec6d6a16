import {
  functionCallItem,
  gatewayId,
  messageItem,
  outputTextPart,
  type ResponseEcho,
  type ResponseUsageFigures,
  responseObject,
  statusOf,
} from "./response-object.ts";

/*
 * Chat Completions stream chunks (what the Anthropic stream translation emits) as Responses API
 * stream events, in the order the real API sends them: response.created, response.in_progress,
 * then per output item output_item.added, content_part.added, output_text.delta… (or
 * function_call_arguments.delta…), their .done events and output_item.done, and finally
 * response.completed or response.incomplete carrying the usage the gateway charged.
 */

type Json = Record<string, unknown>;

export type ResponsesEvent = { type: string; data: Json };

type OpenItem =
  | { kind: "message"; id: string; outputIndex: number; text: string }
  | { kind: "call"; id: string; outputIndex: number; callId: string; name: string; args: string };

type ToolCallDelta = { id?: string; function?: { name?: string; arguments?: string } };

type ChatChunk = {
  choices?: {
    delta?: { content?: string | null; tool_calls?: ToolCallDelta[] };
    finish_reason?: string | null;
  }[];
};

export function createResponsesStreamTranslator(echo: ResponseEcho) {
  let sequence = 0;
  let started = false;
  let finishReason: string | null = null;
  let open: OpenItem | null = null;
  const output: Json[] = [];

  const event = (type: string, data: Json): ResponsesEvent => ({
    type,
    data: { type, sequence_number: sequence++, ...data },
  });

  const start = (): ResponsesEvent[] => {
    if (started) return [];
    started = true;
    const snapshot = responseObject(echo, { status: "in_progress", output: [], usage: null });
    return [
      event("response.created", { response: snapshot }),
      event("response.in_progress", { response: snapshot }),
    ];
  };

  const close = (status: string): ResponsesEvent[] => {
    if (!open) return [];
    const item = open;
    open = null;
    const at = { item_id: item.id, output_index: item.outputIndex };
    if (item.kind === "message") {
      const done = messageItem(item.id, item.text, status);
      output.push(done);
      return [
        event("response.output_text.done", {
          ...at,
          content_index: 0,
          text: item.text,
          logprobs: [],
        }),
        event("response.content_part.done", {
          ...at,
          content_index: 0,
          part: outputTextPart(item.text),
        }),
        event("response.output_item.done", { output_index: item.outputIndex, item: done }),
      ];
    }
    const done = functionCallItem(
      item.id,
      { callId: item.callId, name: item.name, arguments: item.args },
      status,
    );
    output.push(done);
    return [
      event("response.function_call_arguments.done", {
        ...at,
        name: item.name,
        arguments: item.args,
      }),
      event("response.output_item.done", { output_index: item.outputIndex, item: done }),
    ];
  };

  const text = (delta: string): ResponsesEvent[] => {
    const out: ResponsesEvent[] = [];
    if (open?.kind !== "message") {
      out.push(...close("completed"));
      const item = {
        kind: "message" as const,
        id: gatewayId("msg_"),
        outputIndex: output.length,
        text: "",
      };
      open = item;
      out.push(
        event("response.output_item.added", {
          output_index: item.outputIndex,
          item: {
            id: item.id,
            type: "message",
            status: "in_progress",
            role: "assistant",
            content: [],
          },
        }),
        event("response.content_part.added", {
          item_id: item.id,
          output_index: item.outputIndex,
          content_index: 0,
          part: outputTextPart(""),
        }),
      );
    }
    const item = open as Extract<OpenItem, { kind: "message" }>;
    item.text += delta;
    out.push(
      event("response.output_text.delta", {
        item_id: item.id,
        output_index: item.outputIndex,
        content_index: 0,
        delta,
        logprobs: [],
      }),
    );
    return out;
  };

  const toolCall = (call: ToolCallDelta[]): ResponsesEvent[] => {
    const out: ResponsesEvent[] = [];
    for (const piece of call) {
      if (piece.id !== undefined) {
        out.push(...close("completed"));
        const item: OpenItem = {
          kind: "call",
          id: gatewayId("fc_"),
          outputIndex: output.length,
          callId: piece.id,
          name: piece.function?.name ?? "",
          args: "",
        };
        open = item;
        out.push(
          event("response.output_item.added", {
            output_index: item.outputIndex,
            item: functionCallItem(item.id, { ...item, arguments: "" }, "in_progress"),
          }),
        );
      }
      const args = piece.function?.arguments;
      if (open?.kind === "call" && args) {
        open.args += args;
        out.push(
          event("response.function_call_arguments.delta", {
            item_id: open.id,
            output_index: open.outputIndex,
            delta: args,
          }),
        );
      }
    }
    return out;
  };

  return {
    /** Events for one chat chunk payload (the JSON after `data: `); `[DONE]` adds none. */
    onChunk(payload: string): ResponsesEvent[] {
      const out = start();
      if (payload === "[DONE]") return out;
      const chunk = JSON.parse(payload) as ChatChunk;
      for (const choice of chunk.choices ?? []) {
        if (choice.delta?.content) out.push(...text(choice.delta.content));
        if (choice.delta?.tool_calls?.length) out.push(...toolCall(choice.delta.tool_calls));
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
      return out;
    },
    /** The closing events and the terminal one, carrying the usage the request is charged. */
    finish(usage: ResponseUsageFigures): ResponsesEvent[] {
      const { status, incompleteReason } = statusOf(finishReason);
      const out = [...start(), ...close(status === "completed" ? "completed" : "incomplete")];
      const response = responseObject(echo, { status, output, usage, incompleteReason });
      out.push(event(`response.${status}`, { response }));
      return out;
    },
  };
}

export function encodeResponsesEvent(event: ResponsesEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}
