import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { chatCompletionToResponse, responseEcho } from "./response-object.ts";
import { createResponsesStreamTranslator, encodeResponsesEvent } from "./stream-translator.ts";

const echo = () => responseEcho({ instructions: "sys", tools: [], input: "hi" }, "claude-x", 256);
const usage = { inputTokens: 10, cachedInputTokens: 4, outputTokens: 3 };
const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] });

describe("chatCompletionToResponse", () => {
  it("maps text, tool calls, status and usage", () => {
    const response = chatCompletionToResponse(
      {
        choices: [
          {
            message: {
              content: "hello",
              tool_calls: [{ id: "toolu_1", function: { name: "f", arguments: '{"a":1}' } }],
            },
            finish_reason: "length",
          },
        ],
      },
      echo(),
      usage,
    );
    expect(response).toMatchObject({
      object: "response",
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
      model: "claude-x",
      instructions: "sys",
      max_output_tokens: 256,
      store: false,
      usage: {
        input_tokens: 10,
        input_tokens_details: { cached_tokens: 4 },
        output_tokens: 3,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 13,
      },
    });
    expect(response["output"]).toEqual([
      expect.objectContaining({
        type: "message",
        content: [expect.objectContaining({ text: "hello" })],
      }),
      expect.objectContaining({
        type: "function_call",
        call_id: "toolu_1",
        name: "f",
        arguments: '{"a":1}',
      }),
    ]);
    expect(String(response["id"])).toMatch(/^resp_/);
  });

  it("is completed on a natural stop", () => {
    const response = chatCompletionToResponse(
      { choices: [{ message: { content: "x" }, finish_reason: "stop" }] },
      echo(),
      usage,
    );
    expect(response["status"]).toBe("completed");
    expect(response["incomplete_details"]).toBeNull();
  });
});

describe("createResponsesStreamTranslator", () => {
  function run(payloads: string[]) {
    const translator = createResponsesStreamTranslator(echo());
    const events = payloads.flatMap((p) => translator.onChunk(p));
    events.push(...translator.finish(usage));
    return events;
  }

  it("emits the real event order for text then a tool call, numbered in sequence", () => {
    const events = run([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "hel" }),
      chunk({ content: "lo" }),
      chunk({
        tool_calls: [
          { index: 0, id: "toolu_1", type: "function", function: { name: "f", arguments: "" } },
        ],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: ":1}" } }] }),
      chunk({}, "tool_calls"),
      "[DONE]",
    ]);
    expect(events.map((e) => e.type)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(events.map((e) => e.data["sequence_number"])).toEqual(events.map((_, i) => i));
    const completed = events.at(-1)!.data["response"] as Record<string, unknown>;
    expect(completed["output"]).toEqual([
      expect.objectContaining({
        type: "message",
        content: [expect.objectContaining({ text: "hello" })],
      }),
      expect.objectContaining({ type: "function_call", call_id: "toolu_1", arguments: '{"a":1}' }),
    ]);
    expect(completed["usage"]).toMatchObject({ input_tokens: 10, output_tokens: 3 });
  });

  it("ends with response.incomplete at the output bound", () => {
    const events = run([chunk({ content: "a" }), chunk({}, "length")]);
    expect(events.at(-1)!.type).toBe("response.incomplete");
    expect(
      (events.at(-1)!.data["response"] as Record<string, unknown>)["incomplete_details"],
    ).toEqual({
      reason: "max_output_tokens",
    });
  });

  it("is accumulated by the official SDK's stream helper", async () => {
    const events = run([chunk({ content: "hel" }), chunk({ content: "lo" }), chunk({}, "stop")]);
    const body = events.map(encodeResponsesEvent).join("");
    const client = new OpenAI({
      apiKey: "k",
      baseURL: "http://sdk.invalid/v1",
      fetch: async () => new Response(body, { headers: { "content-type": "text/event-stream" } }),
    });
    const final = await client.responses.stream({ model: "claude-x", input: "hi" }).finalResponse();
    expect(final.status).toBe("completed");
    expect(final.output[0]).toMatchObject({ type: "message", content: [{ text: "hello" }] });
  });
});
