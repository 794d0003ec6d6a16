import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import OpenAI, {
  APIConnectionError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
} from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  defaultOutputTokens,
  defaultWords,
  embeddingTokens,
  type FakeProvider,
  promptTokens,
  type RecordedRequest,
  startFakeProvider,
} from "./server.ts";

let fake: FakeProvider;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeProvider();
  client = new OpenAI({ apiKey: "sk-upstream", baseURL: fake.openaiBaseUrl, maxRetries: 0 });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const defaultText = (tokens: number) =>
  Array.from({ length: tokens }, (_, i) => defaultWords[i % defaultWords.length]).join("");
const userMessage = { role: "user", content: "héllo there 🌍" } as const;

function anthropicFetch(body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${fake.anthropicBaseUrl}/v1/messages`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-api-key": "sk-ant-upstream",
      "anthropic-version": "2023-06-01",
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

// Enough of the SSE grammar for assertions: events split on blank lines, `event` and `data`.
function parseSse(text: string): { event: string | null; data: string }[] {
  return text
    .split(/\r?\n\r?\n/)
    .map((block) => block.split(/\r?\n/).filter((line) => line !== "" && !line.startsWith(":")))
    .filter((lines) => lines.length > 0)
    .map((lines) => ({
      event: lines.find((line) => line.startsWith("event: "))?.slice(7) ?? null,
      data: lines
        .filter((line) => line.startsWith("data: "))
        .map((line) => line.slice(6))
        .join("\n"),
    }));
}

// node:http rather than fetch: it neither adds Accept-Encoding nor merges what arrives.
function rawChunks(path: string, body: unknown, headers: Record<string, string> = {}) {
  return new Promise<{ headers: Record<string, unknown>; chunks: Buffer[] }>((resolve, reject) => {
    const req = httpRequest(
      `${fake.url}${path}`,
      { method: "POST", headers: { authorization: "Bearer k", ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ headers: res.headers, chunks }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

describe("OpenAI chat completions", () => {
  it("answers JSON the SDK parses, with the documented usage", async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: "gpt-4o-mini",
        messages: [{ role: "system", content: "be brief" }, userMessage],
      })
      .withResponse();
    expect(response.headers.get("x-request-id")).toMatch(/^req_/);
    expect(data.object).toBe("chat.completion");
    expect(data.model).toBe("gpt-4o-mini");
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]?.message).toMatchObject({ role: "assistant", content: defaultText(16) });
    expect(data.choices[0]?.finish_reason).toBe("stop");
    const prompt = promptTokens(["be brief", userMessage.content]);
    expect(data.usage).toEqual({
      prompt_tokens: prompt,
      completion_tokens: defaultOutputTokens,
      total_tokens: prompt + defaultOutputTokens,
    });
  });

  it("produces exactly min(max tokens, outputTokens) tokens", async () => {
    const bounded = await client.chat.completions.create({
      model: "m",
      messages: [userMessage],
      max_completion_tokens: 5,
    });
    expect(bounded.choices[0]?.message.content).toBe(defaultText(5));
    expect(bounded.choices[0]?.finish_reason).toBe("length");
    expect(bounded.usage?.completion_tokens).toBe(5);

    fake.script("short", { outputTokens: 3 });
    const short = await client.chat.completions.create({
      model: "short",
      messages: [userMessage],
      max_tokens: 10,
    });
    expect(short.usage?.completion_tokens).toBe(3);
    expect(short.choices[0]?.finish_reason).toBe("stop");
  });

  it("returns n choices and counts their tokens together", async () => {
    const completion = await client.chat.completions.create({
      model: "m",
      messages: [userMessage],
      n: 3,
      max_tokens: 4,
    });
    expect(completion.choices.map((choice) => choice.index)).toEqual([0, 1, 2]);
    expect(completion.usage?.completion_tokens).toBe(12);
  });

  it("streams one token per delta, then a usage chunk with include_usage", async () => {
    const stream = await client.chat.completions.create({
      model: "m",
      messages: [userMessage],
      stream: true,
      stream_options: { include_usage: true },
    });
    const contents: string[] = [];
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      if (chunk.usage) {
        expect(chunk.choices).toEqual([]);
        usage = chunk.usage;
      }
      const choice = chunk.choices[0];
      if (choice?.delta.content) contents.push(choice.delta.content);
      finish = choice?.finish_reason ?? finish;
    }
    expect(contents).toHaveLength(defaultOutputTokens);
    expect(contents.join("")).toBe(defaultText(defaultOutputTokens));
    expect(finish).toBe("stop");
    expect(usage?.completion_tokens).toBe(defaultOutputTokens);
    expect(usage?.prompt_tokens).toBe(promptTokens([userMessage.content]));
  });

  it("streams without a usage chunk unless asked", async () => {
    const stream = await client.chat.completions.create({
      model: "m",
      messages: [userMessage],
      stream: true,
    });
    for await (const chunk of stream) expect(chunk.usage).toBeUndefined();
  });

  it("streams n > 1 choices interleaved", async () => {
    const stream = await client.chat.completions.create({
      model: "m",
      messages: [userMessage],
      stream: true,
      n: 2,
      max_tokens: 3,
      stream_options: { include_usage: true },
    });
    const byChoice = new Map<number, string>();
    let completionTokens = 0;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        byChoice.set(
          choice.index,
          (byChoice.get(choice.index) ?? "") + (choice.delta.content ?? ""),
        );
      }
      completionTokens = chunk.usage?.completion_tokens ?? completionTokens;
    }
    expect([...byChoice.values()]).toEqual([defaultText(3), defaultText(3)]);
    expect(completionTokens).toBe(6);
  });

  it("honours stop sequences", async () => {
    const completion = await client.chat.completions.create({
      model: "m",
      messages: [userMessage],
      stop: ["tok"],
    });
    expect(completion.choices[0]?.message.content).toBe(defaultText(2));
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(completion.usage?.completion_tokens).toBe(2);
  });

  it("reports overridden usage, or none", async () => {
    fake.script("greedy", { usageOverride: { completion_tokens: 1000 } });
    const greedy = await client.chat.completions.create({
      model: "greedy",
      messages: [userMessage],
    });
    expect(greedy.usage?.completion_tokens).toBe(1000);
    expect(greedy.usage?.total_tokens).toBe(1000 + promptTokens([userMessage.content]));

    fake.script("silent", { omitUsage: true });
    const silent = await client.chat.completions.create({
      model: "silent",
      messages: [userMessage],
    });
    expect(silent.usage).toBeUndefined();
    const stream = await client.chat.completions.create({
      model: "silent",
      messages: [userMessage],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) expect(chunk.usage ?? null).toBeNull();
  });

  it("uses scripted text", async () => {
    fake.script("scripted", { text: "Bonjour à tous" });
    const completion = await client.chat.completions.create({
      model: "scripted",
      messages: [userMessage],
    });
    expect(completion.choices[0]?.message.content).toBe("Bonjour à tous");
    expect(completion.usage?.completion_tokens).toBe(3);
  });
});

describe("OpenAI tool calls", () => {
  const tools = [
    {
      type: "function" as const,
      function: {
        name: "get_weather",
        parameters: { type: "object", properties: { city: { type: "string" } } },
      },
    },
  ];
  const call = { name: "get_weather", arguments: { city: "Zürich", unit: "celsius" } };

  it("answers with tool_calls when tools are offered", async () => {
    fake.script("tooly", { toolCall: call });
    const completion = await client.chat.completions.create({
      model: "tooly",
      messages: [userMessage],
      tools,
    });
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    expect(choice?.message.content).toBeNull();
    const toolCall = choice?.message.tool_calls?.[0];
    expect(toolCall?.type).toBe("function");
    if (toolCall?.type !== "function") return;
    expect(toolCall.id).toMatch(/^call_/);
    expect(toolCall.function.name).toBe("get_weather");
    expect(JSON.parse(toolCall.function.arguments)).toEqual(call.arguments);
  });

  it("answers with text when no tools are offered", async () => {
    fake.script("tooly", { toolCall: call });
    const completion = await client.chat.completions.create({
      model: "tooly",
      messages: [userMessage],
    });
    expect(completion.choices[0]?.finish_reason).toBe("stop");
  });

  it("streams the call header first and the arguments over several deltas", async () => {
    fake.script("tooly", { toolCall: call });
    const stream = await client.chat.completions.create({
      model: "tooly",
      messages: [userMessage],
      tools,
      stream: true,
    });
    const deltas: OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(deltas[0]).toMatchObject({
      index: 0,
      type: "function",
      function: { name: "get_weather" },
    });
    expect(deltas[0]?.id).toMatch(/^call_/);
    expect(deltas.slice(1).every((delta) => delta.id === undefined)).toBe(true);
    expect(deltas.length).toBeGreaterThan(3);
    const args = deltas.map((delta) => delta.function?.arguments ?? "").join("");
    expect(JSON.parse(args)).toEqual(call.arguments);
    expect(finish).toBe("tool_calls");
  });

  it("accumulates in the SDK's stream helper", async () => {
    fake.script("tooly", { toolCall: call });
    const final = await client.chat.completions
      .stream({ model: "tooly", messages: [userMessage], tools })
      .finalChatCompletion();
    const toolCall = final.choices[0]?.message.tool_calls?.[0];
    expect(toolCall?.type === "function" && JSON.parse(toolCall.function.arguments)).toEqual(
      call.arguments,
    );
  });
});

describe("OpenAI embeddings and models", () => {
  it("returns deterministic unit vectors in the SDK's default base64 encoding", async () => {
    const input = ["héllo", "wörld", "héllo"];
    const response = await client.embeddings.create({ model: "text-embedding-3-small", input });
    expect(response.data).toHaveLength(3);
    const [a, b, c] = response.data.map((item) => item.embedding);
    expect(a).toHaveLength(16);
    expect(a).toEqual(c);
    expect(a).not.toEqual(b);
    expect(Math.hypot(...(a ?? []))).toBeCloseTo(1, 5);
    expect(response.usage.prompt_tokens).toBe(
      input.reduce((sum, text) => sum + embeddingTokens(text), 0),
    );

    const floats = await client.embeddings.create({
      model: "text-embedding-3-small",
      input: "héllo",
      encoding_format: "float",
      dimensions: 8,
    });
    expect(floats.data[0]?.embedding).toHaveLength(8);
  });

  it("lists models, scripted ones included", async () => {
    fake.script("my-model", {});
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain("gpt-4o-mini");
    expect(ids).toContain("my-model");
  });
});

describe("OpenAI errors", () => {
  it("renders scripted statuses so the SDK throws APIError, with Retry-After", async () => {
    fake.script("limited", { status: 429, errorMessage: "Rate limit reached", retryAfter: 7 });
    const error = await client.chat.completions
      .create({ model: "limited", messages: [userMessage] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIError);
    if (!(error instanceof APIError)) return;
    expect(error.status).toBe(429);
    expect(error.message).toContain("Rate limit reached");
    expect(error.code).toBe("rate_limit_exceeded");
    expect(error.headers?.get("retry-after")).toBe("7");
  });

  it("refuses credentials under authFail, and a missing key always", async () => {
    fake.scriptNext({ authFail: true });
    await expect(
      client.chat.completions.create({ model: "m", messages: [userMessage] }),
    ).rejects.toBeInstanceOf(AuthenticationError);

    const response = await fetch(`${fake.openaiBaseUrl}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "m", messages: [userMessage] }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_api_key" } });
  });

  it("refuses malformed requests with 400", async () => {
    const error = await client.chat.completions
      .create({ model: "m", messages: [] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIError);
    expect(error instanceof APIError && error.status).toBe(400);
  });

  it("sends an unparseable 200 under badJson", async () => {
    fake.scriptNext({ badJson: true });
    const response = await fetch(`${fake.openaiBaseUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k" },
      body: JSON.stringify({ model: "m", messages: [userMessage] }),
    });
    expect(response.status).toBe(200);
    await expect(response.json()).rejects.toThrow(SyntaxError);
  });

  it("answers unknown routes with 404 in the caller's format", async () => {
    const response = await fetch(`${fake.openaiBaseUrl}/nope`, {
      headers: { authorization: "Bearer k" },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { type: "invalid_request_error" } });
  });
});

describe("Anthropic messages", () => {
  const request = {
    model: "claude-3-5-haiku-latest",
    system: "be brief",
    max_tokens: 100,
    messages: [{ role: "user", content: [{ type: "text", text: userMessage.content }] }],
  };

  it("answers JSON in the Messages shape", async () => {
    const response = await anthropicFetch(request);
    expect(response.status).toBe(200);
    expect(response.headers.get("request-id")).toMatch(/^req_/);
    const message = (await response.json()) as { id: string };
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      model: request.model,
      content: [{ type: "text", text: defaultText(16) }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: promptTokens(["be brief", userMessage.content]), output_tokens: 16 },
    });
    expect(message.id).toMatch(/^msg_/);
    expect(fake.requests[0]?.headers["x-api-key"]).toBe("sk-ant-upstream");
  });

  it("stops at max_tokens and at stop sequences", async () => {
    const bounded = await (await anthropicFetch({ ...request, max_tokens: 4 })).json();
    expect(bounded).toMatchObject({ stop_reason: "max_tokens", usage: { output_tokens: 4 } });

    const stopped = await (await anthropicFetch({ ...request, stop_sequences: ["naïve"] })).json();
    expect(stopped).toMatchObject({
      content: [{ text: defaultText(3) }],
      stop_reason: "stop_sequence",
      stop_sequence: "naïve",
      usage: { output_tokens: 3 },
    });
  });

  it("streams the real event sequence", async () => {
    const response = await anthropicFetch({ ...request, max_tokens: 5, stream: true });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const events = parseSse(await response.text());
    const names = events.map((event) => event.event);
    expect(names).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      ...Array(5).fill("content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    const payloads = events.map((event) => JSON.parse(event.data));
    expect(payloads.every((payload, i) => payload.type === names[i])).toBe(true);
    expect(payloads[0].message.usage.input_tokens).toBe(
      promptTokens(["be brief", userMessage.content]),
    );
    const text = payloads
      .filter((payload) => payload.type === "content_block_delta")
      .map((payload) => payload.delta.text)
      .join("");
    expect(text).toBe(defaultText(5));
    expect(payloads.at(-2)).toMatchObject({
      delta: { stop_reason: "max_tokens", stop_sequence: null },
      usage: { output_tokens: 5 },
    });
  });

  it("streams tool use as input_json_delta", async () => {
    fake.script(request.model, { toolCall: { name: "lookup", arguments: { q: "日本" } } });
    const tools = [{ name: "lookup", input_schema: { type: "object" } }];
    const json = await (await anthropicFetch({ ...request, tools })).json();
    expect(json).toMatchObject({
      stop_reason: "tool_use",
      content: [{ type: "tool_use", name: "lookup", input: { q: "日本" } }],
    });

    const events = parseSse(
      await (await anthropicFetch({ ...request, tools, stream: true })).text(),
    );
    const payloads = events.map((event) => JSON.parse(event.data));
    expect(payloads[1].content_block).toMatchObject({
      type: "tool_use",
      name: "lookup",
      input: {},
    });
    const partial = payloads
      .filter((payload) => payload.type === "content_block_delta")
      .map((payload) => {
        expect(payload.delta.type).toBe("input_json_delta");
        return payload.delta.partial_json;
      });
    expect(partial.length).toBeGreaterThan(1);
    expect(JSON.parse(partial.join(""))).toEqual({ q: "日本" });
    expect(payloads.at(-2).delta.stop_reason).toBe("tool_use");
  });

  it("requires max_tokens", async () => {
    const { max_tokens: _, ...withoutMax } = request;
    const response = await anthropicFetch(withoutMax);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: "max_tokens: Field required" },
    });
  });

  it("requires x-api-key and honours authFail", async () => {
    const missing = await anthropicFetch(request, { "x-api-key": "" });
    expect(missing.status).toBe(401);
    fake.scriptNext({ authFail: true });
    const refused = await anthropicFetch(request);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { type: "authentication_error" } });
  });

  it("renders scripted errors in Anthropic's format", async () => {
    fake.script(request.model, { status: 529, errorMessage: "Overloaded", retryAfter: 3 });
    const response = await anthropicFetch(request);
    expect(response.status).toBe(529);
    expect(response.headers.get("retry-after")).toBe("3");
    expect(await response.json()).toEqual({
      type: "error",
      error: { type: "overloaded_error", message: "Overloaded" },
    });
  });
});

describe("transport behaviours", () => {
  const chat = { model: "m", messages: [userMessage] };

  it("gzips JSON and SSE when the client accepts it, and only then", async () => {
    fake.script("zipped", { gzip: true });
    const json = await fetch(`${fake.openaiBaseUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k", "accept-encoding": "gzip" },
      body: JSON.stringify({ ...chat, model: "zipped" }),
    });
    expect(json.headers.get("content-encoding")).toBe("gzip");
    expect(((await json.json()) as OpenAI.ChatCompletion).choices[0]?.message.content).toBe(
      defaultText(16),
    );

    const stream = await client.chat.completions
      .create(
        { ...chat, model: "zipped", stream: true },
        { headers: { "accept-encoding": "gzip" } },
      )
      .withResponse();
    expect(stream.response.headers.get("content-encoding")).toBe("gzip");
    let text = "";
    for await (const chunk of stream.data) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe(defaultText(16));

    const plain = await rawChunks("/v1/chat/completions", { ...chat, model: "zipped" });
    expect(plain.headers["content-encoding"]).toBeUndefined();
  });

  it("fragments SSE with CRLF and comments, and the SDK still parses it", async () => {
    fake.script("rough", { fragment: true, crlf: true, comments: true, outputTokens: 40 });
    const raw = await rawChunks("/v1/chat/completions", { ...chat, model: "rough", stream: true });
    const text = Buffer.concat(raw.chunks).toString("utf8");
    expect(text).toContain(": keep-alive\r\n\r\n");
    expect(text).toContain("data: [DONE]\r\n\r\n");
    expect(raw.chunks.length).toBeGreaterThan(parseSse(text).length);

    for (const gzip of [false, true]) {
      fake.script("rough", { fragment: true, crlf: true, comments: true, gzip, outputTokens: 40 });
      const stream = await client.chat.completions.create(
        { ...chat, model: "rough", stream: true, stream_options: { include_usage: true } },
        { headers: { "accept-encoding": "gzip" } },
      );
      let content = "";
      let usage = 0;
      for await (const chunk of stream) {
        content += chunk.choices[0]?.delta.content ?? "";
        usage = chunk.usage?.completion_tokens ?? usage;
      }
      expect(content).toBe(defaultText(40));
      expect(usage).toBe(40);
    }
  });

  it("records a client abort of a hanging request", async () => {
    fake.scriptNext({ hang: true });
    const controller = new AbortController();
    const pending = client.chat.completions.create(chat, { signal: controller.signal });
    await vi.waitFor(() => expect(fake.requests[0]?.behaviour).toEqual({ hang: true }));
    expect(fake.requests[0]?.outcome).toBe("pending");
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(APIUserAbortError);
    await vi.waitFor(() => expect(fake.requests[0]?.aborted).toBe(true));
    expect(fake.requests[0]).toMatchObject({ outcome: "aborted", status: null });
  });

  it("records a client abort mid-stream", async () => {
    fake.script("slow", { chunkDelayMs: 20 });
    const stream = await client.chat.completions.create({ ...chat, model: "slow", stream: true });
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) break;
    }
    await vi.waitFor(() => expect(fake.requests[0]?.aborted).toBe(true));
    expect(fake.requests[0]?.status).toBe(200);
  });

  it("resets the connection before headers and mid-stream", async () => {
    fake.scriptNext({ reset: "before-headers" });
    await expect(client.chat.completions.create(chat)).rejects.toBeInstanceOf(APIConnectionError);
    expect(fake.requests[0]).toMatchObject({ outcome: "reset", aborted: false });

    fake.scriptNext({ reset: "mid-stream" });
    const stream = await client.chat.completions.create({ ...chat, stream: true });
    let received = 0;
    await expect(
      (async () => {
        for await (const chunk of stream) if (chunk.choices[0]?.delta.content) received++;
      })(),
    ).rejects.toThrow();
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(defaultOutputTokens);
    await vi.waitFor(() => expect(fake.requests[1]?.outcome).toBe("reset"));
  });

  it("sends headers and then hangs under hang: after-headers", async () => {
    fake.scriptNext({ hang: "after-headers" });
    const controller = new AbortController();
    const response = await fetch(`${fake.openaiBaseUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k" },
      body: JSON.stringify(chat),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    controller.abort();
    await vi.waitFor(() => expect(fake.requests[0]?.aborted).toBe(true));
  });

  it("waits latencyMs before headers and firstByteMs before the body", async () => {
    fake.scriptNext({ latencyMs: 150, firstByteMs: 150 });
    const started = performance.now();
    const response = await fetch(`${fake.openaiBaseUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k" },
      body: JSON.stringify(chat),
    });
    const headersAt = performance.now();
    await response.json();
    // Lower bounds only: timers never fire early, so these cannot flake on a slow machine.
    expect(headersAt - started).toBeGreaterThanOrEqual(145);
    expect(performance.now() - started).toBeGreaterThanOrEqual(295);
  });
});

describe("scripting and recording", () => {
  it("records method, path, lowercased headers, body and time", async () => {
    const before = Date.now();
    await client.chat.completions.create(
      { model: "gpt-4o", messages: [userMessage], max_tokens: 2 },
      { headers: { "X-Custom-Header": "yes" } },
    );
    const [record] = fake.requests;
    expect(record).toMatchObject({
      id: expect.any(Number),
      method: "POST",
      path: "/v1/chat/completions",
      model: "gpt-4o",
      body: { model: "gpt-4o", messages: [userMessage], max_tokens: 2 },
      status: 200,
      outcome: "completed",
      aborted: false,
    });
    expect(record?.headers["authorization"]).toBe("Bearer sk-upstream");
    expect(record?.headers["x-custom-header"]).toBe("yes");
    expect(record?.time).toBeGreaterThanOrEqual(before);
    expect(fake.countFor("gpt-4o")).toBe(1);
    expect(fake.countFor("other")).toBe(0);
    expect(fake.countFor()).toBe(1);
  });

  it("applies scriptNext once each, in order, before per-model scripts", async () => {
    fake.script("m", { outputTokens: 1 });
    fake.scriptNext({ outputTokens: 2 });
    fake.scriptNext({ outputTokens: 3 });
    const counts: (number | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const completion = await client.chat.completions.create({
        model: "m",
        messages: [userMessage],
      });
      counts.push(completion.usage?.completion_tokens);
    }
    expect(counts).toEqual([2, 3, 1]);
  });

  it("refuses misspelt behaviour fields", () => {
    expect(() => fake.script("m", { latencyMS: 5 } as never)).toThrow(/latencyMS/);
  });

  it("is controllable over HTTP", async () => {
    const post = (path: string, body?: unknown) =>
      fetch(`${fake.url}${path}`, { method: "POST", body: JSON.stringify(body ?? {}) });

    expect(
      (await post("/_fake/script", { model: "remote", behaviour: { status: 503 } })).status,
    ).toBe(200);
    expect((await post("/_fake/next", { behaviour: { outputTokens: 1 } })).status).toBe(200);
    const first = await client.chat.completions.create({
      model: "remote",
      messages: [userMessage],
    });
    expect(first.usage?.completion_tokens).toBe(1);
    await expect(
      client.chat.completions.create({ model: "remote", messages: [userMessage] }),
    ).rejects.toMatchObject({ status: 503 });

    const requests = (await (
      await fetch(`${fake.url}/_fake/requests`)
    ).json()) as RecordedRequest[];
    expect(requests).toHaveLength(2);
    expect(requests[1]).toMatchObject({ model: "remote", status: 503, outcome: "completed" });

    const invalid = await post("/_fake/script", {
      model: "remote",
      behaviour: { hang: "forever" },
    });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: string }).error).toMatch(/hang/);

    expect((await post("/_fake/reset")).status).toBe(200);
    expect(fake.requests).toHaveLength(0);
    const after = await client.chat.completions.create({
      model: "remote",
      messages: [userMessage],
    });
    expect(after.usage?.completion_tokens).toBe(defaultOutputTokens);
  });
});

describe("standalone CLI", () => {
  it("prints its URL first, serves, and exits cleanly on SIGTERM", async () => {
    const main = fileURLToPath(new URL("./main.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", main], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      env: { ...process.env, FAKE_PROVIDER_PORT: "0" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const lines = createInterface({ input: child.stdout });
    const [firstLine] = await lines[Symbol.asyncIterator]()
      .next()
      .then((result) => [result.value]);
    const url = /^fake-provider listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(firstLine)?.[1];
    expect(url).toBeDefined();
    const remote = new OpenAI({ apiKey: "k", baseURL: `${url}/v1`, maxRetries: 0 });
    const completion = await remote.chat.completions.create({
      model: "m",
      messages: [userMessage],
    });
    expect(completion.usage?.completion_tokens).toBe(defaultOutputTokens);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
