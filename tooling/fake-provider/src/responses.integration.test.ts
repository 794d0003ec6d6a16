import OpenAI, { APIError, NotFoundError } from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  defaultOutputTokens,
  defaultWords,
  type FakeProvider,
  promptTokens,
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
// The stream helper's final response has no output_text convenience field (only create's has).
function streamedText(response: { output: unknown[] }): string {
  const [item] = response.output as { content?: { text?: string }[] }[];
  return item?.content?.map((part) => part.text ?? "").join("") ?? "";
}
const weatherTool = {
  type: "function" as const,
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } } },
  strict: false,
};

describe("POST /v1/responses", () => {
  it("answers a Response the SDK parses, with the documented usage", async () => {
    const response = await client.responses.create({
      model: "gpt-4o-mini",
      instructions: "be brief",
      input: [{ role: "user", content: [{ type: "input_text", text: "héllo there 🌍" }] }],
    });
    expect(response.object).toBe("response");
    expect(response.id).toMatch(/^resp_/);
    expect(response.status).toBe("completed");
    expect(response.output_text).toBe(defaultText(defaultOutputTokens));
    const input = promptTokens(["be brief", "héllo there 🌍"]);
    expect(response.usage).toEqual({
      input_tokens: input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: defaultOutputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: input + defaultOutputTokens,
    });
  });

  it("is incomplete at max_output_tokens, and reports overridden usage", async () => {
    fake.script("m", {
      usageOverride: { prompt_tokens: 40, cached_tokens: 30, reasoning_tokens: 2 },
    });
    const response = await client.responses.create({
      model: "m",
      input: "hi",
      max_output_tokens: 5,
    });
    expect(response.status).toBe("incomplete");
    expect(response.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(response.output_text).toBe(defaultText(5));
    expect(response.usage).toMatchObject({
      input_tokens: 40,
      input_tokens_details: { cached_tokens: 30 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 2 },
      total_tokens: 45,
    });
  });

  it("calls a function tool when one is offered", async () => {
    fake.script("m", { toolCall: { name: "get_weather", arguments: { city: "Paris" } } });
    const response = await client.responses.create({
      model: "m",
      input: "weather?",
      tools: [weatherTool],
    });
    expect(response.output).toEqual([
      expect.objectContaining({
        type: "function_call",
        name: "get_weather",
        arguments: '{"city":"Paris"}',
        call_id: expect.stringMatching(/^call_/),
      }),
    ]);
  });

  it("counts a previous response's context into the next input", async () => {
    const first = await client.responses.create({ model: "m", input: "hi" });
    const second = await client.responses.create({
      model: "m",
      input: "again",
      previous_response_id: first.id,
    });
    expect(second.usage?.input_tokens).toBe(
      promptTokens(["again"]) + (first.usage?.total_tokens ?? 0),
    );
    await expect(
      client.responses.create({ model: "m", input: "x", previous_response_id: "resp_unknown" }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it("ends failed under the failed behaviour, and renders scripted errors", async () => {
    fake.scriptNext({ failed: true, outputTokens: 2 });
    const failed = await client.responses.create({ model: "m", input: "hi" });
    expect(failed.status).toBe("failed");
    expect(failed.error?.code).toBe("server_error");

    fake.scriptNext({ status: 429, retryAfter: 3 });
    const error = await client.responses.create({ model: "m", input: "hi" }).catch((e) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(429);
    expect((error as APIError).headers?.get("retry-after")).toBe("3");
  });

  it("refuses malformed requests with 400", async () => {
    const error = await client.responses.create({ model: "m", input: [] }).catch((e) => e);
    expect((error as APIError).status).toBe(400);
    expect((error as APIError).param).toBe("input");
  });
});

describe("streamed responses", () => {
  it("sends the real event sequence, one token per delta", async () => {
    const stream = await client.responses.create({ model: "m", input: "hi", stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
    ]);
    expect(types.filter((t) => t === "response.output_text.delta")).toHaveLength(
      defaultOutputTokens,
    );
    expect(types.slice(-4)).toEqual([
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const completed = events.at(-1) as Extract<ResponseStreamEvent, { type: "response.completed" }>;
    expect(completed.response.usage?.output_tokens).toBe(defaultOutputTokens);
  });

  it("accumulates text and tool calls in the SDK's responses.stream helper", async () => {
    const text = await client.responses
      .stream({ model: "m", input: "hi", max_output_tokens: 3 })
      .finalResponse();
    // The helper keeps its snapshot on response.incomplete (it swaps it only on completed).
    expect(streamedText(text)).toBe(defaultText(3));

    fake.scriptNext({ toolCall: { name: "get_weather", arguments: { city: "Paris" } } });
    const call = await client.responses
      .stream({ model: "m", input: "weather?", tools: [weatherTool] })
      .finalResponse();
    expect(call.output[0]).toMatchObject({ type: "function_call", arguments: '{"city":"Paris"}' });
  });

  it("ends with response.failed under the failed behaviour", async () => {
    fake.scriptNext({ failed: true, outputTokens: 2 });
    const stream = await client.responses.create({ model: "m", input: "hi", stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types.at(-1)).toBe("response.failed");
  });

  it.each([
    { gzip: true },
    { fragment: true, seed: 7 },
    { crlf: true, comments: true },
    { fragment: true, crlf: true, gzip: true },
  ])("still parses in the SDK under %o", async (behaviour) => {
    fake.scriptNext(behaviour);
    const response = await client.responses.stream({ model: "m", input: "hi" }).finalResponse();
    expect(streamedText(response)).toBe(defaultText(defaultOutputTokens));
    expect(fake.requests.at(-1)?.outcome).toBe("completed");
  });
});

describe("stored responses", () => {
  it("retrieves and deletes a stored response; store: false keeps none", async () => {
    const created = await client.responses.create({ model: "m", input: "hi" });
    const fetched = await client.responses.retrieve(created.id);
    expect(fetched.output_text).toBe(created.output_text);
    await client.responses.delete(created.id);
    await expect(client.responses.retrieve(created.id)).rejects.toBeInstanceOf(NotFoundError);

    const unstored = await client.responses.create({ model: "m", input: "hi", store: false });
    await expect(client.responses.retrieve(unstored.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("cancels a background response, and only a background one", async () => {
    const queued = await client.responses.create({ model: "m", input: "hi", background: true });
    expect(queued.status).toBe("queued");
    const cancelled = await client.responses.cancel(queued.id);
    expect(cancelled.status).toBe("cancelled");

    const done = await client.responses.create({ model: "m", input: "hi" });
    const error = await client.responses.cancel(done.id).catch((e) => e);
    expect((error as APIError).status).toBe(400);
  });

  it("answers unknown methods on a response path with 405", async () => {
    const res = await fetch(`${fake.openaiBaseUrl}/responses/resp_x`, {
      method: "PUT",
      headers: { authorization: "Bearer k" },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, DELETE");
  });
});
