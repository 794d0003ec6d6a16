import { defaultPriceList } from "@osm/db/price-list";
import { type Behaviour, promptTokens, splitWords } from "@osm/fake-provider";
import { type GatewayStack, rawBodyCapture, startGatewayStack } from "@osm/testing/gateway";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import { afterAll, afterEach, beforeAll, describe, expect, it, test } from "vitest";

// The same streaming chat (plain text, and a tool call) through the official SDK, for both
// provider kinds, under every way an upstream may shape its SSE bytes: the client must see the
// same text and arguments, the ledger the same usage, and the stream must end with [DONE].

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

function sdk() {
  return stack.openai(secret, stack.proxies[0], { fetch: raw.fetch });
}

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

type Collected = {
  text: string;
  contentDeltas: number;
  toolDeltas: number;
  tools: { id?: string; name?: string; arguments: string }[];
  finishReasons: string[];
  usage: CompletionUsage[];
};

/** Reads the SDK's stream to its end; a throw here means the iterator did not end normally. */
async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<Collected> {
  const out: Collected = {
    text: "",
    contentDeltas: 0,
    toolDeltas: 0,
    tools: [],
    finishReasons: [],
    usage: [],
  };
  for await (const chunk of stream) {
    if (chunk.usage) out.usage.push(chunk.usage);
    for (const choice of chunk.choices) {
      if (choice.delta.content) {
        out.text += choice.delta.content;
        out.contentDeltas++;
      }
      if (choice.delta.tool_calls?.length) out.toolDeltas++;
      for (const call of choice.delta.tool_calls ?? []) {
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

/** [DONE] is the last event, exactly once, and no error event came before it. */
async function expectDone() {
  const data = sseData(await raw.last());
  expect(data.at(-1)).toBe("[DONE]");
  expect(data.filter((d) => d === "[DONE]")).toHaveLength(1);
  expect(data.filter((d) => d.startsWith('{"error"'))).toEqual([]);
}

const variants: [string, Behaviour][] = [
  ["plain", {}],
  ["fragment", { fragment: true }],
  ["gzip", { gzip: true }],
  ["fragment+gzip+crlf+comments", { fragment: true, gzip: true, crlf: true, comments: true }],
  ["omitUsage", { omitUsage: true }],
];

const kinds = [
  { kind: "openai", model: "gpt-4o-mini", provider: "fake-openai" },
  { kind: "anthropic", model: "claude-3-5-haiku-20241022", provider: "fake-anthropic" },
] as const;

// Multi-byte characters of every UTF-8 length, so fragmentation splits real sequences.
const TEXT = "🌍 Grüße aus 日本語 — naïve café déjà-vu 👋🏽 and the end.";
const SYSTEM = "You answer briefly.";
const USER = "Tell me something naïve about 日本 🌍";
const TOOL_ARGS = {
  query: "naïve café in 日本 🌍",
  limit: 3,
  filters: { open: true, tags: ["déjà", "vu"] },
};
const tools = [
  {
    type: "function" as const,
    function: {
      name: "search_places",
      description: "Search for places",
      parameters: {
        type: "object",
        properties: { query: { type: "string" }, limit: { type: "integer" } },
        required: ["query"],
      },
    },
  },
];

describe.each(kinds)("$kind provider ($model)", ({ kind, model, provider }) => {
  const texts = new Map<string, string>();
  const toolArguments = new Map<string, string>();

  /** The request reached this kind's route and was answered with the scripted variant. */
  function expectUpstream(behaviour: Behaviour) {
    const upstream = stack.fake.requests.at(-1)!;
    expect(upstream.path).toBe(kind === "openai" ? "/v1/chat/completions" : "/v1/messages");
    expect(upstream.behaviour).toMatchObject(behaviour);
    expect(upstream.outcome).toBe("completed");
    if (behaviour.gzip) expect(upstream.headers["accept-encoding"]).toMatch(/\bgzip\b/);
  }

  async function checkLedger(
    requestId: string,
    behaviour: Behaviour,
    counted: number,
    prompt: number,
  ) {
    const row = await ledgerRow(requestId);
    expect(row).toMatchObject({
      outcome: "allowed",
      code: null,
      stream: true,
      key_id: keyId,
      model,
      provider,
      // Reported by the provider, or counted from the stream (one token per delta) without it.
      output_tokens: counted,
    });
    if (behaviour.omitUsage) {
      // Without reported usage the prompt is charged at the gateway's worst-case bound.
      expect(row.input_tokens).toBeGreaterThanOrEqual(prompt);
    } else {
      expect(row.input_tokens).toBe(prompt);
    }
    expect(row.cost).toBeGreaterThan(0n);
    expect(row.cost).toBe(expectedCostNanos(model, row.input_tokens, row.output_tokens));
  }

  test.each(variants)("text, %s upstream", async (name, behaviour) => {
    stack.fake.scriptNext({ ...behaviour, text: TEXT });
    const { data: stream, response } = await sdk()
      .chat.completions.create({
        model,
        messages: [
          { role: "system", content: SYSTEM },
          { role: "user", content: USER },
        ],
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    const got = await collect(stream);
    await expectDone();
    texts.set(name, got.text);

    const words = splitWords(TEXT).length;
    const prompt = promptTokens([SYSTEM, USER]);
    expect(got.text).toBe(TEXT);
    expect(got.contentDeltas).toBe(words);
    expect(got.finishReasons).toEqual(["stop"]);
    if (!behaviour.omitUsage) {
      expect(got.usage).toEqual([
        expect.objectContaining({
          prompt_tokens: prompt,
          completion_tokens: words,
          total_tokens: prompt + words,
        }),
      ]);
    } else {
      // The provider sent no usage: whatever the client is told must not contradict the count.
      expect(got.usage.length).toBeLessThanOrEqual(1);
      for (const u of got.usage) expect(u.completion_tokens).toBe(words);
    }
    expectUpstream(behaviour);
    await checkLedger(response.headers.get("x-request-id")!, behaviour, got.contentDeltas, prompt);
  });

  test.each(variants)("tool call, %s upstream", async (name, behaviour) => {
    stack.fake.scriptNext({
      ...behaviour,
      toolCall: { name: "search_places", arguments: TOOL_ARGS },
    });
    const { data: stream, response } = await sdk()
      .chat.completions.create({
        model,
        messages: [{ role: "user", content: USER }],
        tools,
        tool_choice: "auto",
        stream: true,
      })
      .withResponse();
    const got = await collect(stream);
    await expectDone();
    expect(got.tools).toHaveLength(1);
    const call = got.tools[0]!;
    toolArguments.set(name, call.arguments);
    expect(call.id).toBeTruthy();
    expect(call.name).toBe("search_places");
    expect(JSON.parse(call.arguments)).toEqual(TOOL_ARGS);
    expect(got.text).toBe("");
    expect(got.finishReasons).toEqual(["tool_calls"]);
    // Not asked for: no usage chunk reaches the client, whatever the provider sent.
    expect(got.usage).toEqual([]);
    // The call costs one token for its name plus one per 4-code-point piece of arguments.
    expectUpstream(behaviour);
    expect(got.toolDeltas).toBe(1 + Math.ceil(Array.from(JSON.stringify(TOOL_ARGS)).length / 4));
    await checkLedger(
      response.headers.get("x-request-id")!,
      behaviour,
      got.toolDeltas,
      promptTokens([USER]),
    );
  });

  it("assembled text and tool arguments are identical across variants", () => {
    expect([...texts.keys()]).toEqual(variants.map(([name]) => name));
    expect(new Set(texts.values())).toEqual(new Set([TEXT]));
    expect([...toolArguments.keys()]).toEqual(variants.map(([name]) => name));
    expect(new Set(toolArguments.values()).size).toBe(1);
  });
});
