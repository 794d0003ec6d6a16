import { describe, expect, it } from "vitest";
import { toAnthropicRequest } from "../providers/anthropic/request.ts";
import { responsesToChatRequest } from "./to-chat.ts";

const ok = (body: Record<string, unknown>) => {
  const result = responsesToChatRequest({ model: "m", ...body });
  if (!result.ok) throw new Error(result.message);
  return result.body;
};
const refusal = (body: Record<string, unknown>) => {
  const result = responsesToChatRequest({ model: "m", ...body });
  if (result.ok) throw new Error("expected a refusal");
  return { param: result.param, message: result.message };
};

describe("responsesToChatRequest", () => {
  it("turns string input and instructions into a system and a user message", () => {
    expect(ok({ input: "hi", instructions: "be brief" })).toEqual({
      model: "m",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ],
    });
  });

  it("translates message items, text and image parts, and keeps sampling fields", () => {
    const body = ok({
      input: [
        { role: "developer", content: "rules" },
        {
          type: "message",
          role: "user",
          content: [
            { type: "input_text", text: "look" },
            { type: "input_image", image_url: "https://example.com/a.png", detail: "auto" },
          ],
        },
        { role: "assistant", content: [{ type: "output_text", text: "ok", annotations: [] }] },
      ],
      temperature: 0.5,
      top_p: 0.9,
      user: "u-1",
      safety_identifier: "s-1",
      store: true,
      metadata: { a: "b" },
      truncation: "disabled",
      text: { format: { type: "text" } },
      reasoning: {},
      include: [],
      background: false,
    });
    expect(body).toEqual({
      model: "m",
      messages: [
        { role: "developer", content: "rules" },
        {
          role: "user",
          content: [
            { type: "text", text: "look" },
            { type: "image_url", image_url: { url: "https://example.com/a.png" } },
          ],
        },
        { role: "assistant", content: [{ type: "text", text: "ok" }] },
      ],
      temperature: 0.5,
      top_p: 0.9,
      user: "u-1",
      safety_identifier: "s-1",
    });
  });

  it("translates function tools, calls and their outputs, and tool_choice", () => {
    const body = ok({
      input: [
        { role: "user", content: "weather?" },
        {
          type: "function_call",
          call_id: "call_1",
          name: "get_weather",
          arguments: '{"city":"Paris"}',
        },
        { type: "function_call_output", call_id: "call_1", output: "sunny" },
      ],
      tools: [
        {
          type: "function",
          name: "get_weather",
          description: "d",
          parameters: { type: "object" },
          strict: true,
        },
      ],
      tool_choice: { type: "function", name: "get_weather" },
      parallel_tool_calls: false,
    });
    expect(body["messages"]).toEqual([
      { role: "user", content: "weather?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: "sunny" },
    ]);
    expect(body["tools"]).toEqual([
      {
        type: "function",
        function: { name: "get_weather", description: "d", parameters: { type: "object" } },
      },
    ]);
    expect(body["tool_choice"]).toEqual({ type: "function", function: { name: "get_weather" } });
    expect(body["parallel_tool_calls"]).toBe(false);
  });

  it("produces a chat request the Anthropic translation accepts", () => {
    const chat = ok({
      input: [
        { role: "user", content: "weather?" },
        { type: "function_call", call_id: "call_1", name: "f", arguments: "{}" },
        {
          type: "function_call_output",
          call_id: "call_1",
          output: [{ type: "input_text", text: "x" }],
        },
      ],
      instructions: "sys",
      tools: [{ type: "function", name: "f", parameters: { type: "object" } }],
    });
    const anthropic = toAnthropicRequest(chat, {
      upstreamModel: "claude",
      maxTokens: 100,
      stream: false,
    });
    expect(anthropic.ok).toBe(true);
    if (anthropic.ok) {
      expect(anthropic.body["system"]).toBe("sys");
      expect(anthropic.body["messages"]).toHaveLength(3);
    }
  });

  it.each([
    [{ input: "x", previous_response_id: "resp_1" }, "previous_response_id"],
    [{ input: "x", conversation: "conv_1" }, "conversation"],
    [{ input: "x", background: true }, "background"],
    [{ input: "x", prompt: { id: "pmpt_1" } }, "prompt"],
    [{ input: "x", reasoning: { effort: "high" } }, "reasoning"],
    [{ input: "x", text: { format: { type: "json_object" } } }, "text"],
    [{ input: "x", include: ["reasoning.encrypted_content"] }, "include"],
    [{ input: "x", truncation: "auto" }, "truncation"],
    [{ input: "x", max_tool_calls: 2 }, "max_tool_calls"],
    [{ input: "x", tools: [{ type: "web_search" }] }, "tools"],
    [{ input: "x", tool_choice: { type: "web_search" } }, "tool_choice"],
    [{ input: [{ type: "reasoning", id: "rs_1", summary: [] }] }, "input"],
    [{ input: [{ role: "user", content: [{ type: "input_file", file_id: "f" }] }] }, "input"],
    [{ input: [{ role: "user", content: [{ type: "input_image", file_id: "f" }] }] }, "input"],
    [{ input: [] }, "input"],
    [{ input: "x", instructions: 3 }, "instructions"],
  ])("refuses %o naming %s", (body, param) => {
    const result = refusal(body);
    expect(result.param).toBe(param);
    expect(result.message).toMatch(/Anthropic|must/);
  });

  it("names the hosted tool it refuses", () => {
    expect(refusal({ input: "x", tools: [{ type: "file_search" }] }).message).toContain(
      '"file_search"',
    );
  });
});
