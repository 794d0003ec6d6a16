import { defaultPriceList } from "@osm/db/price-list";
import { type Behaviour, promptTokens, splitWords } from "@osm/fake-provider";
import { type GatewayStack, rawBodyCapture, startGatewayStack } from "@osm/testing/gateway";
import { APIError } from "openai";
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import { afterAll, afterEach, beforeAll, describe, expect, it, test } from "vitest";

// The OpenAI SDK against the gateway, an Anthropic-kind provider (the fake's /v1/messages)
// behind it: translation both ways, usage, cost, refusals and error mapping.

const HAIKU = "claude-3-5-haiku-20241022"; // $0.8 / $4 per 1M, maxOutputTokens 8192
const SONNET = "claude-sonnet-4-20250514"; // maxOutputTokens 64000
const UPSTREAM_KEY = "sk-ant-upstream-secret-456";

let stack: GatewayStack;
/** The raw body of the last response the SDK read, resolved when complete. */
const raw = rawBodyCapture();
let secret: string;
let keyId: string;

beforeAll(async () => {
  stack = await startGatewayStack();
  const t = await stack.tenant();
  secret = t.secret;
  keyId = t.key.id;
});
afterAll(() => stack.close());
afterEach(() => stack.fake.reset());

/** The official SDK, as stack.openai builds it, with the raw response body kept for the test. */
function sdk(key = secret) {
  return stack.openai(key, stack.proxies[0], { fetch: raw.fetch });
}

// ---------------------------------------------------------------------------------------------
// Money, ledger, SSE helpers
// ---------------------------------------------------------------------------------------------

function usdToNanos(usd: string): bigint {
  const [whole, fraction = ""] = usd.split(".");
  return BigInt(whole!) * 1_000_000_000n + BigInt(fraction.padEnd(9, "0"));
}

function expectedCostNanos(model: string, input: number, output: number): bigint {
  const entry = defaultPriceList.find((e) => e.id === model)!;
  const exact =
    BigInt(input) * usdToNanos(entry.inputUsdPer1M) +
    BigInt(output) * usdToNanos(entry.outputUsdPer1M);
  return (exact + 999_999n) / 1_000_000n;
}

type LedgerRow = {
  outcome: string;
  code: string | null;
  status: number;
  stream: boolean;
  model: string | null;
  provider: string | null;
  key_id: string;
  input_tokens: number;
  output_tokens: number;
  cost: bigint;
};

async function ledgerRow(requestId: string): Promise<LedgerRow> {
  for (let i = 0; i < 200; i++) {
    const [row] = await stack.services
      .sql`select * from usage_ledger where request_id = ${requestId}`;
    if (row) return row as unknown as LedgerRow;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ledger row for ${requestId}`);
}

/** The data payloads of an SSE body, in order (comments and blank events left out). */
function sseData(raw: string): string[] {
  return raw
    .replace(/\r\n?/g, "\n")
    .split("\n\n")
    .flatMap((block) => {
      const lines = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, ""));
      return lines.length > 0 ? [lines.join("\n")] : [];
    });
}

async function expectCleanEnd() {
  const data = sseData(await raw.last());
  expect(data.at(-1)).toBe("[DONE]");
  expect(data.filter((d) => d === "[DONE]")).toHaveLength(1);
  expect(data.filter((d) => d.startsWith('{"error"'))).toEqual([]);
}

type Collected = {
  text: string;
  contentDeltas: number;
  toolDeltas: number;
  tools: { id?: string; name?: string; arguments: string }[];
  finishReasons: string[];
  usage: CompletionUsage[];
  roles: string[];
  ids: Set<string>;
  models: Set<string>;
};

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<Collected> {
  const out: Collected = {
    text: "",
    contentDeltas: 0,
    toolDeltas: 0,
    tools: [],
    finishReasons: [],
    usage: [],
    roles: [],
    ids: new Set(),
    models: new Set(),
  };
  for await (const chunk of stream) {
    out.ids.add(chunk.id);
    out.models.add(chunk.model);
    if (chunk.usage) out.usage.push(chunk.usage);
    for (const choice of chunk.choices) {
      const delta = choice.delta;
      if (delta.role) out.roles.push(delta.role);
      if (delta.content) {
        out.text += delta.content;
        out.contentDeltas++;
      }
      if (delta.tool_calls?.length) out.toolDeltas++;
      for (const call of delta.tool_calls ?? []) {
        out.tools[call.index] ??= { arguments: "" };
        const slot = out.tools[call.index]!;
        if (call.id) slot.id = call.id;
        if (call.function?.name) slot.name = call.function.name;
        slot.arguments += call.function?.arguments ?? "";
      }
      if (choice.finish_reason) out.finishReasons.push(choice.finish_reason);
    }
  }
  return out;
}

async function failure(promise: Promise<unknown>): Promise<APIError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof APIError) return err;
    throw err;
  }
  throw new Error("expected a failure");
}

const lastUpstream = () => {
  const request = stack.fake.requests.at(-1)!;
  return { ...request, body: request.body as Record<string, unknown> };
};

/** Upstream variants every streaming test also runs under. */
const streamVariants: [string, Behaviour][] = [
  ["plain upstream", {}],
  ["fragmented gzip upstream", { fragment: true, gzip: true }],
];

const weatherTool: ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, unit: { enum: ["C", "F"] } },
      required: ["city"],
    },
  },
};
const weatherArgs = { city: "Zürich", unit: "C", note: "naïve 日本 🌍" };
/** The fake sends arguments in pieces of 4 code points; the call costs one token plus one per piece. */
const toolTokens = (args: object) => 1 + Math.ceil(Array.from(JSON.stringify(args)).length / 4);

// ---------------------------------------------------------------------------------------------

describe("JSON chat", () => {
  it("translates the request, answers in OpenAI form and charges the model's prices", async () => {
    const text = "Grüße aus 日本 — naïve 🌍 answer";
    stack.fake.scriptNext({ text });
    const system = "You are terse. Answer in one line.";
    const user = "Say hello in naïve 日本語 🌍";
    const { data, response } = await sdk()
      .chat.completions.create({
        model: HAIKU,
        messages: [
          { role: "system", content: system },
          { role: "user", content: user },
        ],
        temperature: 0.3,
        top_p: 0.9,
        stop: ["ZZZ"],
        user: "end-user-42",
      })
      .withResponse();

    const completion = splitWords(text).length;
    const prompt = promptTokens([system, user]);
    expect(data.object).toBe("chat.completion");
    expect(data.model).toBe(HAIKU);
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]!.message.role).toBe("assistant");
    expect(data.choices[0]!.message.content).toBe(text);
    expect(data.choices[0]!.finish_reason).toBe("stop");
    expect(data.usage).toMatchObject({
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
    });

    // $0.8 / $4 per 1M tokens, the sum rounded up to the nano-dollar.
    const cost = usdToNanos(response.headers.get("x-osm-cost-usd")!);
    expect(cost).toBe(
      (BigInt(prompt) * 800_000_000n + BigInt(completion) * 4_000_000_000n + 999_999n) / 1_000_000n,
    );
    expect(cost).toBe(expectedCostNanos(HAIKU, prompt, completion));
    const requestId = response.headers.get("x-request-id")!;
    expect(requestId).toMatch(/^req_/);

    const upstream = lastUpstream();
    expect(upstream.method).toBe("POST");
    expect(upstream.path).toBe("/v1/messages");
    expect(upstream.headers["x-api-key"]).toBe(UPSTREAM_KEY);
    expect(upstream.headers["anthropic-version"]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(upstream.headers.authorization).toBeUndefined();
    expect(JSON.stringify(upstream.headers)).not.toContain(secret);
    expect(upstream.body).toEqual({
      model: HAIKU,
      max_tokens: 8192,
      system,
      messages: [{ role: "user", content: [{ type: "text", text: user }] }],
      stream: false,
      temperature: 0.3,
      top_p: 0.9,
      stop_sequences: ["ZZZ"],
      metadata: { user_id: "end-user-42" },
    });

    const row = await ledgerRow(requestId);
    expect(row).toMatchObject({
      outcome: "allowed",
      stream: false,
      key_id: keyId,
      model: HAIKU,
      provider: "fake-anthropic",
      input_tokens: prompt,
      output_tokens: completion,
    });
    expect(row.cost).toBe(cost);
  });

  it("injects each model's own maxOutputTokens when the client sends no bound", async () => {
    const answer = await sdk().chat.completions.create({
      model: SONNET,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(answer.choices[0]!.message.content).toContain("héllo");
    expect(lastUpstream().body.max_tokens).toBe(64000);
    expect(lastUpstream().body.model).toBe(SONNET);
  });

  test.each(["max_tokens", "max_completion_tokens"] as const)(
    "passes the client's %s as max_tokens and maps max_tokens to finish_reason length",
    async (param) => {
      stack.fake.scriptNext({ outputTokens: 400 });
      const body: ChatCompletionCreateParamsNonStreaming = {
        model: HAIKU,
        messages: [{ role: "user", content: "long answer please" }],
        [param]: 300,
      };
      const { data, response } = await sdk().chat.completions.create(body).withResponse();
      expect(data.choices[0]!.finish_reason).toBe("length");
      expect(data.usage?.completion_tokens).toBe(300);
      const upstream = lastUpstream().body;
      expect(upstream.max_tokens).toBe(300);
      expect(upstream).not.toHaveProperty("max_completion_tokens");
      const prompt = promptTokens(["long answer please"]);
      expect(usdToNanos(response.headers.get("x-osm-cost-usd")!)).toBe(
        expectedCostNanos(HAIKU, prompt, 300),
      );
    },
  );

  it("hoists several system and developer messages in order and merges same-role turns", async () => {
    await sdk().chat.completions.create({
      model: HAIKU,
      messages: [
        { role: "system", content: "First rule." },
        { role: "user", content: "one" },
        { role: "developer", content: [{ type: "text", text: "Second rule." }] },
        { role: "user", content: "two" },
      ],
    });
    const upstream = lastUpstream().body;
    expect(upstream.system).toEqual([
      { type: "text", text: "First rule." },
      { type: "text", text: "Second rule." },
    ]);
    expect(upstream.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "one" },
          { type: "text", text: "two" },
        ],
      },
    ]);
  });

  it("accepts OpenAI's explicit no-op defaults and does not forward them", async () => {
    const answer = await sdk().chat.completions.create({
      model: HAIKU,
      messages: [{ role: "user", content: "hi" }],
      n: 1,
      logprobs: false,
      presence_penalty: 0,
      frequency_penalty: 0,
      response_format: { type: "text" },
      store: false,
    });
    expect(answer.choices).toHaveLength(1);
    const upstream = lastUpstream().body;
    for (const field of [
      "n",
      "logprobs",
      "presence_penalty",
      "frequency_penalty",
      "response_format",
      "store",
    ]) {
      expect(upstream).not.toHaveProperty(field);
    }
  });
});

describe("streaming chat", () => {
  describe.each(streamVariants)("%s", (_name, variant) => {
    test.each([false, true])(
      "text, include_usage %s: deltas, usage chunk only when asked, [DONE], ledger",
      async (includeUsage) => {
        const text = "Streamed Grüße — naïve 日本 🌍 words flow here";
        stack.fake.scriptNext({ ...variant, text });
        const system = "Be brief.";
        const user = "Stream naïve 日本 please";
        const { data: stream, response } = await sdk()
          .chat.completions.create({
            model: HAIKU,
            messages: [
              { role: "system", content: system },
              { role: "user", content: user },
            ],
            stream: true,
            ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
          })
          .withResponse();
        expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
        const got = await collect(stream);
        await expectCleanEnd();

        const words = splitWords(text).length;
        const prompt = promptTokens([system, user]);
        expect(got.text).toBe(text);
        expect(got.contentDeltas).toBe(words);
        expect(got.roles).toEqual(["assistant"]);
        expect(got.finishReasons).toEqual(["stop"]);
        expect(got.ids.size).toBe(1);
        expect([...got.models]).toEqual([HAIKU]);
        if (includeUsage) {
          expect(got.usage).toEqual([
            { prompt_tokens: prompt, completion_tokens: words, total_tokens: prompt + words },
          ]);
        } else {
          expect(got.usage).toEqual([]);
        }

        const upstream = lastUpstream();
        expect(upstream.path).toBe("/v1/messages");
        expect(upstream.body.stream).toBe(true);
        expect(upstream.body.max_tokens).toBe(8192);
        expect(upstream.body.system).toBe(system);
        expect(upstream.body).not.toHaveProperty("stream_options");

        const row = await ledgerRow(response.headers.get("x-request-id")!);
        expect(row).toMatchObject({
          outcome: "allowed",
          stream: true,
          model: HAIKU,
          provider: "fake-anthropic",
          input_tokens: prompt,
          output_tokens: words,
        });
        expect(row.cost).toBeGreaterThan(0n);
        expect(row.cost).toBe(expectedCostNanos(HAIKU, prompt, words));
      },
    );

    it("ends with finish_reason length at the client's bound", async () => {
      stack.fake.scriptNext({ ...variant, outputTokens: 400 });
      const { data: stream, response } = await sdk()
        .chat.completions.create({
          model: HAIKU,
          messages: [{ role: "user", content: "x" }],
          stream: true,
          max_tokens: 260,
        })
        .withResponse();
      const got = await collect(stream);
      await expectCleanEnd();
      expect(got.contentDeltas).toBe(260);
      expect(got.finishReasons).toEqual(["length"]);
      const row = await ledgerRow(response.headers.get("x-request-id")!);
      expect(row.output_tokens).toBe(260);
    });
  });
});

describe("tools", () => {
  test.each([
    ["auto", "auto", { type: "auto" }],
    ["required", "required", { type: "any" }],
    [
      "a named function, no parallel calls",
      { type: "function", function: { name: "get_weather" } },
      { type: "tool", name: "get_weather", disable_parallel_tool_use: true },
    ],
  ] as const)(
    "tool_choice %s reaches the upstream in Anthropic form; the tool call comes back as tool_calls",
    async (_name, toolChoice, anthropicChoice) => {
      stack.fake.scriptNext({ toolCall: { name: "get_weather", arguments: weatherArgs } });
      const answer = await sdk().chat.completions.create({
        model: HAIKU,
        messages: [{ role: "user", content: "Weather in Zürich?" }],
        tools: [weatherTool],
        tool_choice: toolChoice,
        ...(typeof toolChoice === "object" ? { parallel_tool_calls: false } : {}),
      });
      const upstream = lastUpstream().body;
      expect(upstream.tools).toEqual([
        {
          name: "get_weather",
          description: "Current weather for a city",
          input_schema: weatherTool.function.parameters,
        },
      ]);
      expect(upstream.tool_choice).toEqual(anthropicChoice);
      expect(upstream).not.toHaveProperty("parallel_tool_calls");

      const choice = answer.choices[0]!;
      expect(choice.finish_reason).toBe("tool_calls");
      expect(choice.message.content).toBeNull();
      expect(choice.message.tool_calls).toHaveLength(1);
      const call = choice.message.tool_calls![0]!;
      expect(call.type).toBe("function");
      if (call.type !== "function") throw new Error("not a function call");
      expect(call.id).toMatch(/^toolu_/);
      expect(call.function.name).toBe("get_weather");
      expect(JSON.parse(call.function.arguments)).toEqual(weatherArgs);
      expect(answer.usage?.completion_tokens).toBe(toolTokens(weatherArgs));
    },
  );

  test.each(streamVariants)(
    "streams a tool call whose assembled arguments parse (%s)",
    async (_name, variant) => {
      stack.fake.scriptNext({
        ...variant,
        toolCall: { name: "get_weather", arguments: weatherArgs },
      });
      const { data: stream, response } = await sdk()
        .chat.completions.create({
          model: HAIKU,
          messages: [{ role: "user", content: "Weather in Zürich?" }],
          tools: [weatherTool],
          stream: true,
        })
        .withResponse();
      const got = await collect(stream);
      await expectCleanEnd();
      expect(got.tools).toHaveLength(1);
      expect(got.tools[0]!.id).toMatch(/^toolu_/);
      expect(got.tools[0]!.name).toBe("get_weather");
      expect(JSON.parse(got.tools[0]!.arguments)).toEqual(weatherArgs);
      expect(got.text).toBe("");
      expect(got.finishReasons).toEqual(["tool_calls"]);
      expect(got.toolDeltas).toBe(toolTokens(weatherArgs));
      const row = await ledgerRow(response.headers.get("x-request-id")!);
      expect(row.output_tokens).toBe(toolTokens(weatherArgs));
      expect(row.cost).toBeGreaterThan(0n);
    },
  );

  it("translates the assistant tool_calls and the tool result of a follow-up to tool_use / tool_result", async () => {
    const client = sdk();
    const messages: ChatCompletionMessageParam[] = [
      { role: "user", content: "Weather in Zürich?" },
    ];
    stack.fake.scriptNext({ toolCall: { name: "get_weather", arguments: weatherArgs } });
    const first = await client.chat.completions.create({
      model: HAIKU,
      messages,
      tools: [weatherTool],
    });
    const assistant = first.choices[0]!.message;
    const call = assistant.tool_calls![0]!;
    messages.push(assistant, { role: "tool", tool_call_id: call.id, content: "18°C and sunny" });

    stack.fake.scriptNext({ text: "It is 18°C and sunny." });
    const second = await client.chat.completions.create({
      model: HAIKU,
      messages,
      tools: [weatherTool],
    });
    expect(second.choices[0]!.message.content).toBe("It is 18°C and sunny.");
    expect(second.choices[0]!.finish_reason).toBe("stop");
    expect(lastUpstream().body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather in Zürich?" }] },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: call.id, name: "get_weather", input: weatherArgs }],
      },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: call.id, content: "18°C and sunny" }],
      },
    ]);
    expect(second.usage?.prompt_tokens).toBe(
      promptTokens(["Weather in Zürich?", "", "18°C and sunny"]),
    );
  });
});

describe("images", () => {
  it("sends a data: URL as a base64 block and an https URL as a url block", async () => {
    const png =
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    const answer = await sdk().chat.completions.create({
      model: HAIKU,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is in these images?" },
            { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } },
            {
              type: "image_url",
              image_url: { url: "https://images.example.com/cat.jpg", detail: "low" },
            },
          ],
        },
      ],
    });
    expect(answer.choices[0]!.message.content).toBeTruthy();
    expect(lastUpstream().body.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "What is in these images?" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
          {
            type: "image",
            source: { type: "url", url: "https://images.example.com/cat.jpg" },
          },
        ],
      },
    ]);
  });
});

describe("refusals before any upstream call", () => {
  test.each([
    ["logprobs", { logprobs: true }],
    ["n", { n: 2 }],
    ["temperature", { temperature: 1.5 }],
    ["response_format", { response_format: { type: "json_object" } }],
    ["seed", { seed: 7 }],
    ["presence_penalty", { presence_penalty: 0.5 }],
    ["n", { n: 2, stream: true }],
  ] as const)("%s (%o) → 400 invalid_request naming it", async (param, extra) => {
    const before = stack.fake.countFor();
    const err = await failure(
      sdk().chat.completions.create({
        model: HAIKU,
        messages: [{ role: "user", content: "x" }],
        ...extra,
      } as ChatCompletionCreateParamsNonStreaming),
    );
    expect(err.status).toBe(400);
    expect(err.error).toMatchObject({
      code: "invalid_request",
      type: "invalid_request_error",
      param,
    });
    expect(err.message).toContain(param);
    expect(stack.fake.countFor()).toBe(before);
  });

  it("refuses embeddings on an Anthropic model, naming it", async () => {
    const before = stack.fake.countFor();
    const err = await failure(sdk().embeddings.create({ model: HAIKU, input: "hello" }));
    expect(err.status).toBe(400);
    expect(err.error).toMatchObject({ code: "invalid_request", param: "model" });
    expect(err.message).toContain(HAIKU);
    expect(stack.fake.countFor()).toBe(before);
  });
});

describe("provider errors in Anthropic format", () => {
  const cases: [string, Behaviour, number, string][] = [
    ["429 with retryAfter", { status: 429, retryAfter: 3 }, 429, "upstream_rate_limited"],
    ["500", { status: 500 }, 502, "upstream_error"],
    ["529 overloaded", { status: 529 }, 502, "upstream_error"],
    [
      "400 with a message",
      {
        status: 400,
        errorMessage: `messages.0.content: bad block (key ${UPSTREAM_KEY} rejected)`,
      },
      400,
      "upstream_invalid_request",
    ],
    ["authFail", { authFail: true }, 502, "upstream_auth_failed"],
  ];
  describe.each([false, true])("stream %s", (stream) => {
    test.each(cases)("%s", async (_name, behaviour, status, code) => {
      stack.fake.scriptNext(behaviour);
      const before = stack.fake.countFor();
      const err = await failure(
        sdk().chat.completions.create({
          model: HAIKU,
          messages: [{ role: "user", content: "x" }],
          stream,
        }),
      );
      expect(stack.fake.countFor()).toBe(before + 1);
      expect(lastUpstream().path).toBe("/v1/messages");
      expect([err.status, (err.error as { code?: string }).code]).toEqual([status, code]);
      const requestId = err.headers?.get("x-request-id");
      expect(requestId).toMatch(/^req_/);
      if (code === "upstream_rate_limited") expect(err.headers?.get("retry-after")).toBe("3");
      if (code === "upstream_invalid_request") {
        expect(err.message).toContain("messages.0.content: bad block");
      }
      const body = await raw.last();
      expect(body).not.toContain("sk-ant-upstream");
      expect(body).not.toContain(secret);
      const row = await ledgerRow(requestId!);
      expect(row).toMatchObject({ outcome: "error", code, status, provider: "fake-anthropic" });
    });
  });

  it("scrubs a mid-stream error event's message like a JSON error's", async () => {
    stack.fake.scriptNext({
      outputTokens: 20,
      streamError: `Overloaded (credentials ${UPSTREAM_KEY}, retry with sk-ant-api03-abcdefgh)`,
    });
    const { response } = await sdk()
      .chat.completions.create({
        model: HAIKU,
        messages: [{ role: "user", content: "x" }],
        stream: true,
      })
      .withResponse();
    const body = await raw.last();
    const last = sseData(body).at(-1)!;
    const { error } = JSON.parse(last) as { error: { code: string; message: string } };
    expect(error.code).toBe("upstream_error");
    expect(error.message).toContain("Overloaded (credentials [redacted], retry with [redacted])");
    expect(body).not.toContain("sk-ant-");
    expect(body).not.toContain("[DONE]");
    const row = await ledgerRow(response.headers.get("x-request-id")!);
    expect(row).toMatchObject({ outcome: "error", code: "upstream_error" });
  });
});

describe("/v1/models", () => {
  const anthropicIds = defaultPriceList
    .filter((e) => e.kind === "anthropic")
    .map((e) => e.id)
    .sort();

  it("lists the Anthropic models with the OpenAI ones", async () => {
    const models = await sdk().models.list();
    const byId = new Map(models.data.map((m) => [m.id, m]));
    for (const id of anthropicIds) {
      expect(byId.get(id)).toMatchObject({ id, object: "model", owned_by: "fake-anthropic" });
    }
    expect(byId.get("gpt-4o-mini")).toMatchObject({ owned_by: "fake-openai" });
    expect(models.data).toHaveLength(defaultPriceList.length);
  });

  it("lists only the Anthropic models for a key limited to that provider", async () => {
    const t = await stack.tenant({ policy: { providers: { allow: ["fake-anthropic"] } } });
    const models = await sdk(t.secret).models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(anthropicIds);
  });
});
