import { describe, expect, it } from "vitest";
import { SseParser } from "../../streaming/sse-parser.ts";
import type { TranslateRequestOptions } from "./contract.ts";
import { toAnthropicRequest } from "./request.ts";
import { fromAnthropicResponse } from "./response.ts";
import { createAnthropicStreamTranslator } from "./stream.ts";
import { anthropicErrorMessage } from "./wire.ts";

const options: TranslateRequestOptions = {
  upstreamModel: "claude-sonnet-4-5-20250929",
  maxTokens: 1024,
  stream: false,
};
const hi = [{ role: "user", content: "Hi" }];
const userHi = { role: "user", content: [{ type: "text", text: "Hi" }] };

function translate(body: Record<string, unknown>, opts: Partial<TranslateRequestOptions> = {}) {
  return toAnthropicRequest({ model: "claude", ...body }, { ...options, ...opts });
}

function translated(body: Record<string, unknown>, opts: Partial<TranslateRequestOptions> = {}) {
  const result = translate(body, opts);
  if (!result.ok) throw new Error(`refused: ${result.param}: ${result.message}`);
  return result.body;
}

const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
const anthropicWeatherTool = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: weatherTool.function.parameters,
};

describe("toAnthropicRequest", () => {
  it("sets model, max_tokens and stream from the options, not the body", () => {
    expect(
      translated(
        { model: "my-alias", messages: hi, max_tokens: 5, max_completion_tokens: 7, stream: false },
        { stream: true, maxTokens: 300 },
      ),
    ).toEqual({
      model: "claude-sonnet-4-5-20250929",
      max_tokens: 300,
      messages: [userHi],
      stream: true,
    });
  });

  it.each<[string, unknown[], unknown, unknown[]]>([
    ["a system string", [{ role: "system", content: "Be brief." }, ...hi], "Be brief.", [userHi]],
    [
      "a developer message",
      [{ role: "developer", content: "Be brief." }, ...hi],
      "Be brief.",
      [userHi],
    ],
    [
      "several system messages, one mid-conversation",
      [
        { role: "system", content: "Be brief." },
        ...hi,
        { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
      ],
      [
        { type: "text", text: "Be brief." },
        { type: "text", text: "Answer in French." },
      ],
      [userHi],
    ],
    [
      "system text parts",
      [
        {
          role: "system",
          content: [
            { type: "text", text: "One." },
            { type: "text", text: "Two." },
          ],
        },
        ...hi,
      ],
      [
        { type: "text", text: "One." },
        { type: "text", text: "Two." },
      ],
      [userHi],
    ],
    ["an empty system message", [{ role: "system", content: "" }, ...hi], undefined, [userHi]],
  ])("hoists %s into system", (_, messages, system, expected) => {
    const body = translated({ messages });
    expect(body["system"]).toEqual(system);
    expect(body["messages"]).toEqual(expected);
  });

  it.each<[string, unknown[], unknown[]]>([
    [
      "text parts",
      [
        {
          role: "user",
          content: [
            { type: "text", text: "a" },
            { type: "text", text: "b" },
          ],
        },
      ],
      [
        {
          role: "user",
          content: [
            { type: "text", text: "a" },
            { type: "text", text: "b" },
          ],
        },
      ],
    ],
    [
      "consecutive user messages (merged)",
      [
        { role: "user", content: "a" },
        { role: "user", name: "bob", content: "b" },
        { role: "assistant", content: "c" },
        { role: "assistant", content: [{ type: "text", text: "d" }] },
        { role: "user", content: "e" },
      ],
      [
        {
          role: "user",
          content: [
            { type: "text", text: "a" },
            { type: "text", text: "b" },
          ],
        },
        {
          role: "assistant",
          content: [
            { type: "text", text: "c" },
            { type: "text", text: "d" },
          ],
        },
        { role: "user", content: [{ type: "text", text: "e" }] },
      ],
    ],
    [
      "users split by a system message (merged once it is hoisted)",
      [
        { role: "user", content: "a" },
        { role: "system", content: "s" },
        { role: "user", content: "b" },
      ],
      [
        {
          role: "user",
          content: [
            { type: "text", text: "a" },
            { type: "text", text: "b" },
          ],
        },
      ],
    ],
    [
      "an empty message (dropped, Anthropic refuses empty text)",
      [
        { role: "user", content: "a" },
        { role: "assistant", content: "" },
        { role: "user", content: "b" },
      ],
      [
        {
          role: "user",
          content: [
            { type: "text", text: "a" },
            { type: "text", text: "b" },
          ],
        },
      ],
    ],
    [
      "an echoed assistant message with null fields",
      [
        ...hi,
        {
          role: "assistant",
          content: "Hello",
          refusal: null,
          tool_calls: null,
          function_call: null,
          audio: null,
        },
      ],
      [userHi, { role: "assistant", content: [{ type: "text", text: "Hello" }] }],
    ],
    [
      "an assistant refusal",
      [...hi, { role: "assistant", content: null, refusal: "I can't help with that." }],
      [userHi, { role: "assistant", content: [{ type: "text", text: "I can't help with that." }] }],
    ],
  ])("translates %s", (_, messages, expected) => {
    expect(translated({ messages })["messages"]).toEqual(expected);
  });

  it.each<[string, unknown, unknown]>([
    [
      "a base64 data URL",
      { url: "data:image/png;base64,iVBORw0KGgo=", detail: "high" },
      { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" },
    ],
    [
      "a data URL with parameters",
      { url: "data:image/JPEG;name=x.jpg;base64,/9j/4AAQ" },
      { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQ" },
    ],
    [
      "an https URL",
      { url: "https://example.com/cat.png" },
      { type: "url", url: "https://example.com/cat.png" },
    ],
    [
      "an http URL given as a string",
      "http://example.com/cat.webp",
      { type: "url", url: "http://example.com/cat.webp" },
    ],
  ])("translates an image from %s", (_, imageUrl, source) => {
    const messages = [
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: imageUrl },
        ],
      },
    ];
    expect(translated({ messages })["messages"]).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image", source },
        ],
      },
    ]);
  });

  it.each<[string, unknown]>([
    ["a non-image data URL", { url: "data:application/pdf;base64,JVBERi0=" }],
    ["a data URL that is not base64", { url: "data:image/png,rawbytes" }],
    ["an unsupported image type", { url: "data:image/bmp;base64,Qk0=" }],
    ["another scheme", { url: "ftp://example.com/cat.png" }],
    ["no URL", {}],
  ])("refuses an image from %s", (_, imageUrl) => {
    const result = translate({
      messages: [{ role: "user", content: [{ type: "image_url", image_url: imageUrl }] }],
    });
    expect(result).toMatchObject({ ok: false, param: "messages" });
  });

  it("translates a tool-call round trip: calls, results, and the user turn after them", () => {
    const body = translated({
      messages: [
        { role: "user", content: "Weather in Paris and Rome?" },
        {
          role: "assistant",
          content: "Let me check.",
          tool_calls: [
            {
              id: "call_1",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Paris"}' },
            },
            {
              id: "call_2",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Rome"}' },
            },
            { id: "call_3", type: "function", function: { name: "now", arguments: "" } },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: "18°C" },
        { role: "tool", tool_call_id: "call_2", content: [{ type: "text", text: "24°C" }] },
        { role: "tool", tool_call_id: "call_3", content: "" },
        { role: "user", content: "Thanks" },
      ],
      tools: [weatherTool],
    });
    expect(body["messages"]).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather in Paris and Rome?" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Let me check." },
          { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "call_2", name: "get_weather", input: { city: "Rome" } },
          { type: "tool_use", id: "call_3", name: "now", input: {} },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "call_1", content: "18°C" },
          { type: "tool_result", tool_use_id: "call_2", content: "24°C" },
          { type: "tool_result", tool_use_id: "call_3" },
          { type: "text", text: "Thanks" },
        ],
      },
    ]);
    expect(body["tools"]).toEqual([anthropicWeatherTool]);
  });

  it("puts tool results before user text merged into the same turn", () => {
    const body = translated({
      messages: [
        ...hi,
        {
          role: "assistant",
          tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }],
        },
        { role: "user", content: "interjection" },
        { role: "tool", tool_call_id: "c", content: "ok" },
      ],
    });
    expect(body["messages"]).toEqual([
      userHi,
      { role: "assistant", content: [{ type: "tool_use", id: "c", name: "f", input: {} }] },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "c", content: "ok" },
          { type: "text", text: "interjection" },
        ],
      },
    ]);
  });

  it.each<[string, string]>([
    ["unparseable arguments", '{"city":'],
    ["arguments that are not an object", "[1,2]"],
  ])("refuses %s in a tool call", (_, args) => {
    const result = translate({
      messages: [
        ...hi,
        {
          role: "assistant",
          tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: args } }],
        },
      ],
    });
    expect(result).toMatchObject({ ok: false, param: "messages" });
  });

  it("translates tools, defaulting a missing schema and dropping strict", () => {
    const body = translated({
      messages: hi,
      tools: [
        { type: "function", function: { ...weatherTool.function, strict: true } },
        { type: "function", function: { name: "now" } },
      ],
    });
    expect(body["tools"]).toEqual([
      anthropicWeatherTool,
      { name: "now", input_schema: { type: "object", properties: {} } },
    ]);
  });

  it.each<[string, Record<string, unknown>, unknown]>([
    ["auto", { tool_choice: "auto" }, { type: "auto" }],
    ["required", { tool_choice: "required" }, { type: "any" }],
    ["none", { tool_choice: "none" }, { type: "none" }],
    [
      "a named function",
      { tool_choice: { type: "function", function: { name: "get_weather" } } },
      { type: "tool", name: "get_weather" },
    ],
    ["no choice", {}, undefined],
    [
      "no choice without parallel calls",
      { parallel_tool_calls: false },
      { type: "auto", disable_parallel_tool_use: true },
    ],
    [
      "required without parallel calls",
      { tool_choice: "required", parallel_tool_calls: false },
      { type: "any", disable_parallel_tool_use: true },
    ],
    [
      "a named function without parallel calls",
      { tool_choice: { type: "function", function: { name: "f" } }, parallel_tool_calls: false },
      { type: "tool", name: "f", disable_parallel_tool_use: true },
    ],
    [
      "none without parallel calls",
      { tool_choice: "none", parallel_tool_calls: false },
      { type: "none" },
    ],
    ["parallel calls allowed (the default)", { parallel_tool_calls: true }, undefined],
  ])("translates tool_choice %s", (_, fields, expected) => {
    expect(translated({ messages: hi, tools: [weatherTool], ...fields })["tool_choice"]).toEqual(
      expected,
    );
  });

  it("drops a no-op tool_choice when there are no tools and refuses a forcing one", () => {
    const body = translated({ messages: hi, tool_choice: "none", parallel_tool_calls: false });
    expect(body).not.toHaveProperty("tool_choice");
    expect(body).not.toHaveProperty("tools");
    expect(translate({ messages: hi, tool_choice: "required" })).toMatchObject({
      ok: false,
      param: "tool_choice",
    });
  });

  it.each<[unknown, unknown]>([
    ["END", ["END"]],
    [
      ["a", "b"],
      ["a", "b"],
    ],
    [[], undefined],
    [null, undefined],
  ])("translates stop %j", (stop, expected) => {
    expect(translated({ messages: hi, stop })["stop_sequences"]).toEqual(expected);
  });

  it.each([0, 0.5, 1])("passes temperature %d", (temperature) => {
    expect(translated({ messages: hi, temperature, top_p: 0.9 })).toMatchObject({
      temperature,
      top_p: 0.9,
    });
  });

  it.each([1.2, 2, -0.1])("refuses temperature %d with a clear message", (temperature) => {
    const result = translate({ messages: hi, temperature });
    expect(result).toEqual({
      ok: false,
      param: "temperature",
      message: `temperature must be between 0 and 1 for Anthropic models (got ${temperature}).`,
    });
  });

  it("maps user (or safety_identifier) to metadata.user_id", () => {
    expect(translated({ messages: hi, user: "u-1" })["metadata"]).toEqual({ user_id: "u-1" });
    expect(translated({ messages: hi, user: "u-1", safety_identifier: "s-1" })["metadata"]).toEqual(
      { user_id: "s-1" },
    );
  });

  it("drops fields that do not change the answer", () => {
    const body = translated({
      messages: hi,
      stream_options: { include_usage: true },
      store: true,
      metadata: { team: "a" },
      prompt_cache_key: "k",
      service_tier: "auto",
      n: 1,
      logprobs: false,
      top_logprobs: 0,
      presence_penalty: 0,
      frequency_penalty: 0,
      logit_bias: {},
      response_format: { type: "text" },
      modalities: ["text"],
      seed: null,
      audio: null,
      functions: null,
    });
    expect(body).toEqual({
      model: options.upstreamModel,
      max_tokens: options.maxTokens,
      messages: [userHi],
      stream: false,
    });
  });

  it.each<[string, unknown]>([
    ["n", 2],
    ["logprobs", true],
    ["top_logprobs", 3],
    ["presence_penalty", 0.5],
    ["frequency_penalty", -1],
    ["logit_bias", { "50256": -100 }],
    ["response_format", { type: "json_object" }],
    ["response_format", { type: "json_schema", json_schema: { name: "x", schema: {} } }],
    ["seed", 42],
    ["audio", { voice: "alloy", format: "mp3" }],
    ["modalities", ["text", "audio"]],
    ["functions", [weatherTool.function]],
    ["function_call", "auto"],
    ["reasoning_effort", "high"],
    ["prediction", { type: "content", content: "x" }],
    ["web_search_options", {}],
    ["service_tier", "priority"],
    ["top_k", 40],
  ])("refuses %s = %j naming the param", (param, value) => {
    expect(translate({ messages: hi, [param]: value })).toEqual({
      ok: false,
      param,
      message: `${param} is not supported for Anthropic models.`,
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ["wrongly typed stop", { stop: 3 }, "stop"],
    ["out-of-range top_p", { top_p: 1.5 }, "top_p"],
    ["a non-function tool", { tools: [{ type: "custom", custom: { name: "x" } }] }, "tools"],
    ["an unknown tool_choice", { tools: [weatherTool], tool_choice: "any" }, "tool_choice"],
    ["a non-string user", { user: 7 }, "user"],
  ])("refuses %s", (_, fields, param) => {
    expect(translate({ messages: hi, ...fields })).toMatchObject({ ok: false, param });
  });

  it.each<[string, unknown[]]>([
    [
      "an audio part",
      [
        {
          role: "user",
          content: [{ type: "input_audio", input_audio: { data: "", format: "wav" } }],
        },
      ],
    ],
    ["a file part", [{ role: "user", content: [{ type: "file", file: { file_id: "f" } }] }]],
    ["an image in a system message", [{ role: "system", content: [{ type: "image_url" }] }, ...hi]],
    [
      "an image in an assistant message",
      [
        ...hi,
        { role: "assistant", content: [{ type: "image_url", image_url: { url: "https://x" } }] },
      ],
    ],
    ["a legacy function message", [...hi, { role: "function", name: "f", content: "x" }]],
    [
      "a legacy assistant function_call",
      [...hi, { role: "assistant", function_call: { name: "f", arguments: "{}" } }],
    ],
    ["a tool message without tool_call_id", [...hi, { role: "tool", content: "x" }]],
    ["only system messages", [{ role: "system", content: "s" }]],
  ])("refuses messages with %s", (_, messages) => {
    expect(translate({ messages })).toMatchObject({ ok: false, param: "messages" });
  });
});

describe("fromAnthropicResponse", () => {
  const message = {
    id: "msg_01",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4-5-20250929",
    content: [
      { type: "text", text: "héllo " },
      { type: "text", text: "🌍" },
    ],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 5 },
  };

  it("translates a text answer", () => {
    const before = Math.floor(Date.now() / 1000);
    const { body, usage } = fromAnthropicResponse(message, "my-claude");
    expect(body).toEqual({
      id: "chatcmpl-msg_01",
      object: "chat.completion",
      created: expect.any(Number),
      model: "my-claude",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "héllo 🌍", refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
    });
    expect(body["created"]).toBeGreaterThanOrEqual(before);
    expect(usage).toEqual({ inputTokens: 12, outputTokens: 5, cachedInputTokens: 0 });
  });

  it("translates tool_use blocks into tool_calls", () => {
    const { body } = fromAnthropicResponse(
      {
        ...message,
        content: [
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "toolu_2", name: "now", input: {} },
        ],
        stop_reason: "tool_use",
      },
      "my-claude",
    );
    expect(body["choices"]).toEqual([
      {
        index: 0,
        message: {
          role: "assistant",
          content: null,
          refusal: null,
          tool_calls: [
            {
              id: "toolu_1",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Paris"}' },
            },
            { id: "toolu_2", type: "function", function: { name: "now", arguments: "{}" } },
          ],
        },
        logprobs: null,
        finish_reason: "tool_calls",
      },
    ]);
  });

  it("counts cache tokens in the prompt", () => {
    const { body, usage } = fromAnthropicResponse(
      {
        ...message,
        usage: {
          input_tokens: 10,
          cache_creation_input_tokens: 100,
          cache_read_input_tokens: 1000,
          output_tokens: 7,
        },
      },
      "m",
    );
    expect(usage).toEqual({ inputTokens: 1110, outputTokens: 7, cachedInputTokens: 1000 });
    expect(body["usage"]).toEqual({
      prompt_tokens: 1110,
      completion_tokens: 7,
      total_tokens: 1117,
      prompt_tokens_details: { cached_tokens: 1000 },
    });
  });

  it.each([
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["max_tokens", "length"],
    ["tool_use", "tool_calls"],
    ["refusal", "content_filter"],
    ["something_new", "stop"],
  ])("maps stop_reason %s to %s", (stopReason, finish) => {
    const { body } = fromAnthropicResponse({ ...message, stop_reason: stopReason }, "m");
    expect(body["choices"]).toMatchObject([{ finish_reason: finish }]);
  });

  it("estimates output tokens when usage is missing", () => {
    const { usage } = fromAnthropicResponse({ ...message, usage: undefined }, "m");
    expect(usage).toEqual({ inputTokens: 0, outputTokens: 2 });
  });

  it.each<[string, unknown]>([
    ["not an object", "oops"],
    ["no content", { id: "msg_1", type: "message" }],
    ["a bad block", { ...message, content: [{ type: "text" }] }],
    ["bad usage", { ...message, usage: { input_tokens: "12" } }],
    ["an error body", { type: "error", error: { type: "api_error", message: "boom" } }],
  ])("throws on %s", (_, json) => {
    expect(() => fromAnthropicResponse(json, "m")).toThrow();
  });
});

describe("anthropicErrorMessage", () => {
  it.each<[unknown, string | null]>([
    [{ type: "error", error: { type: "invalid_request_error", message: "bad" } }, "bad"],
    [{ type: "error", error: { type: "overloaded_error" } }, null],
    ["Internal Server Error", null],
    [null, null],
  ])("reads %j", (json, expected) => {
    expect(anthropicErrorMessage(json)).toBe(expected);
  });
});

// A recorded-style Anthropic stream: text, then a tool call whose input arrives in pieces.
// message_start carries the provisional output_tokens: 1 the real API sends.
const text = ["héllo ", "🌍 ", "tok ", "naïve ", "日本"];
const toolPieces = ["", '{"ci', 'ty": ', '"Par', 'is"}'];
const recorded: [string, Record<string, unknown>][] = [
  [
    "message_start",
    {
      message: {
        id: "msg_stream",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-5-20250929",
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: 20,
          cache_creation_input_tokens: 3,
          cache_read_input_tokens: 2,
          output_tokens: 1,
        },
      },
    },
  ],
  ["content_block_start", { index: 0, content_block: { type: "text", text: "" } }],
  ["ping", {}],
  ...text.map((t): [string, Record<string, unknown>] => [
    "content_block_delta",
    { index: 0, delta: { type: "text_delta", text: t } },
  ]),
  ["content_block_stop", { index: 0 }],
  [
    "content_block_start",
    {
      index: 1,
      content_block: { type: "tool_use", id: "toolu_9", name: "get_weather", input: {} },
    },
  ],
  ...toolPieces.map((p): [string, Record<string, unknown>] => [
    "content_block_delta",
    { index: 1, delta: { type: "input_json_delta", partial_json: p } },
  ]),
  ["content_block_stop", { index: 1 }],
  [
    "message_delta",
    { delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 42 } },
  ],
  ["message_stop", {}],
];

function sseBytes(events: [string, Record<string, unknown>][], eol = "\n"): Uint8Array {
  const text = events
    .map(
      ([type, data]) =>
        `event: ${type}${eol}data: ${JSON.stringify({ type, ...data })}${eol}${eol}`,
    )
    .join(`: keep-alive${eol}${eol}`);
  return new TextEncoder().encode(text);
}

/** Feeds the bytes in small reads, cutting through UTF-8 sequences and events. */
function runStream(
  bytes: Uint8Array,
  includeUsage: boolean,
  translator = createAnthropicStreamTranslator("my-claude", { includeUsage, created: 1700000000 }),
) {
  const parser = new SseParser();
  const payloads: string[] = [];
  for (let i = 0; i < bytes.length; i += 7) {
    for (const event of parser.push(bytes.slice(i, i + 7)))
      payloads.push(...translator.onEvent(event));
  }
  for (const event of parser.end()) payloads.push(...translator.onEvent(event));
  return { payloads, translator };
}

type Chunk = {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: {
    index: number;
    delta: {
      role?: string;
      content?: string;
      tool_calls?: {
        index: number;
        id?: string;
        type?: string;
        function: { name?: string; arguments: string };
      }[];
    };
    finish_reason: string | null;
  }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
};

describe("createAnthropicStreamTranslator", () => {
  it.each([true, false])(
    "translates a text + tool_use stream (include_usage %s)",
    (includeUsage) => {
      const { payloads, translator } = runStream(sseBytes(recorded, "\r\n"), includeUsage);
      expect(payloads.at(-1)).toBe("[DONE]");
      expect(payloads.filter((p) => p === "[DONE]")).toHaveLength(1);
      expect(translator.finished()).toBe(true);

      const chunks = payloads.slice(0, -1).map((p) => JSON.parse(p) as Chunk);
      for (const c of chunks) {
        expect(c).toMatchObject({
          id: "chatcmpl-msg_stream",
          object: "chat.completion.chunk",
          created: 1700000000,
          model: "my-claude",
        });
      }
      expect(chunks[0]!.choices[0]!.delta).toEqual({ role: "assistant", content: "" });

      const deltas = chunks.flatMap((c) => c.choices.map((choice) => choice.delta));
      const content = deltas.map((d) => d.content ?? "").join("");
      expect(content).toBe(text.join(""));

      const calls = deltas.flatMap((d) => d.tool_calls ?? []);
      expect(calls[0]).toEqual({
        index: 0,
        id: "toolu_9",
        type: "function",
        function: { name: "get_weather", arguments: "" },
      });
      // The tool is the first tool call even though it is Anthropic's second block.
      expect(calls.every((c) => c.index === 0)).toBe(true);
      expect(JSON.parse(calls.map((c) => c.function.arguments).join(""))).toEqual({
        city: "Paris",
      });

      const finishes = chunks.flatMap((c) => c.choices.map((choice) => choice.finish_reason));
      expect(finishes.filter((f) => f !== null)).toEqual(["tool_calls"]);

      const usageChunks = chunks.filter((c) => c.usage !== undefined);
      if (includeUsage) {
        expect(usageChunks).toHaveLength(1);
        expect(chunks.at(-1)).toMatchObject({
          choices: [],
          usage: { prompt_tokens: 25, completion_tokens: 42, total_tokens: 67 },
        });
      } else {
        expect(usageChunks).toHaveLength(0);
      }
      // 42 replaces message_start's provisional 1: never 43.
      expect(translator.usage()).toEqual({
        inputTokens: 25,
        outputTokens: 42,
        cachedInputTokens: 2,
      });
    },
  );

  it("gives each tool its ordinal among tool calls", () => {
    const events: [string, Record<string, unknown>][] = [
      recorded[0]!,
      ["content_block_start", { index: 0, content_block: { type: "text", text: "" } }],
      ["content_block_delta", { index: 0, delta: { type: "text_delta", text: "Checking." } }],
      ["content_block_stop", { index: 0 }],
      ...[1, 2].flatMap((block): [string, Record<string, unknown>][] => [
        [
          "content_block_start",
          {
            index: block,
            content_block: { type: "tool_use", id: `toolu_${block}`, name: "f", input: {} },
          },
        ],
        [
          "content_block_delta",
          { index: block, delta: { type: "input_json_delta", partial_json: `{"n":${block}}` } },
        ],
        ["content_block_stop", { index: block }],
      ]),
      ["message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } }],
      ["message_stop", {}],
    ];
    const { payloads } = runStream(sseBytes(events), false);
    const calls = payloads
      .filter((p) => p !== "[DONE]")
      .flatMap((p) => (JSON.parse(p) as Chunk).choices.flatMap((c) => c.delta.tool_calls ?? []));
    expect(calls.map((c) => [c.index, c.id, c.function.arguments])).toEqual([
      [0, "toolu_1", ""],
      [0, undefined, '{"n":1}'],
      [1, "toolu_2", ""],
      [1, undefined, '{"n":2}'],
    ]);
  });

  it("counts deltas when the stream carries no final usage", () => {
    const withoutUsage = recorded.map(([type, data]): [string, Record<string, unknown>] =>
      type === "message_delta" ? [type, { delta: { stop_reason: "tool_use" } }] : [type, data],
    );
    const { translator } = runStream(sseBytes(withoutUsage), true);
    // 5 text deltas + 1 tool call + 4 non-empty argument pieces.
    expect(translator.usage()).toEqual({ inputTokens: 25, outputTokens: 10, cachedInputTokens: 2 });
  });

  it("takes restated prompt counts from message_delta", () => {
    const restated = recorded.map(([type, data]): [string, Record<string, unknown>] =>
      type === "message_delta"
        ? [
            type,
            {
              delta: { stop_reason: "end_turn" },
              usage: { input_tokens: 30, cache_read_input_tokens: 2, output_tokens: 8 },
            },
          ]
        : [type, data],
    );
    const { translator } = runStream(sseBytes(restated), true);
    expect(translator.usage()).toEqual({ inputTokens: 32, outputTokens: 8, cachedInputTokens: 2 });
  });

  it("uses the given id and maps max_tokens to length", () => {
    const translator = createAnthropicStreamTranslator("m", {
      includeUsage: false,
      id: "chatcmpl-fixed",
    });
    const events: [string, Record<string, unknown>][] = [
      recorded[0]!,
      recorded[1]!,
      ["content_block_delta", { index: 0, delta: { type: "text_delta", text: "cut" } }],
      ["message_delta", { delta: { stop_reason: "max_tokens" }, usage: { output_tokens: 1 } }],
      ["message_stop", {}],
    ];
    const { payloads } = runStream(sseBytes(events), false, translator);
    const chunks = payloads.slice(0, -1).map((p) => JSON.parse(p) as Chunk);
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(["chatcmpl-fixed"]));
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("length");
  });

  it("throws the provider's message on an error event", () => {
    const translator = createAnthropicStreamTranslator("m", { includeUsage: true });
    const [start] = new SseParser().push(sseBytes([recorded[0]!]));
    expect(translator.onEvent(start!)).toHaveLength(1);
    const [error] = new SseParser().push(
      sseBytes([["error", { error: { type: "overloaded_error", message: "Overloaded" } }]]),
    );
    expect(() => translator.onEvent(error!)).toThrow("Overloaded");
    expect(translator.finished()).toBe(false);
  });

  it("throws on a truncated event", () => {
    const translator = createAnthropicStreamTranslator("m", { includeUsage: false });
    expect(() =>
      translator.onEvent({ raw: "", event: "message_start", data: '{"type":"message_st' }),
    ).toThrow();
  });
});
