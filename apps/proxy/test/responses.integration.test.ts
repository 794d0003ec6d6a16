import { defaultOutputTokens, defaultWords } from "@osm/fake-provider";
import { formatUsd } from "@osm/policy/money";
import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { moneyConservation } from "@osm/testing/money";
import { waitFor } from "@osm/testing/wait";
import { APIError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

// The official SDK's responses.create and responses.stream through the gateway, against an
// OpenAI-kind provider (forwarded natively) and an Anthropic-kind one (translated).

const GPT = "gpt-4o-mini"; // $0.15 / $0.6 per 1M, cached $0.075, maxOutputTokens 16384
const HAIKU = "claude-3-5-haiku-20241022"; // $0.8 / $4 per 1M, cached $0.08, maxOutputTokens 8192

let stack: GatewayStack;
let secret: string;

beforeAll(async () => {
  stack = await startGatewayStack();
  await stack.addProxy();
  const t = await stack.tenant();
  secret = t.secret;
});
afterAll(() => stack.close());
afterEach(() => stack.fake.reset());

const defaultText = (tokens: number) =>
  Array.from({ length: tokens }, (_, i) => defaultWords[i % defaultWords.length]).join("");

type LedgerRow = {
  input_tokens: number;
  output_tokens: number;
  cost: string;
  reserved: string;
  status: number;
  code: string | null;
  provider: string | null;
  end_user: string | null;
  tags: string[] | null;
};

function ledgerRow(requestId: string) {
  return waitFor(`the ledger row of ${requestId}`, async () => {
    const [row] = await stack.services.sql<LedgerRow[]>`
      select * from usage_ledger where request_id = ${requestId}`;
    return row;
  });
}

/** cost = ceil((input × inputPrice + output × outputPrice) / 1M), prices in nano-USD per 1M. */
function costOf(row: LedgerRow, inputPer1M: bigint, outputPer1M: bigint) {
  const exact = BigInt(row.input_tokens) * inputPer1M + BigInt(row.output_tokens) * outputPer1M;
  return (exact + 999_999n) / 1_000_000n;
}

const lastUpstreamBody = () => stack.fake.requests.at(-1)?.body as Record<string, unknown>;

describe.each([
  { kind: "openai", model: GPT, prices: [150_000_000n, 600_000_000n] },
  { kind: "anthropic", model: HAIKU, prices: [800_000_000n, 4_000_000_000n] },
] as const)("responses through an $kind-kind provider", ({ kind, model, prices }) => {
  it("answers responses.create with the usage it charges", async () => {
    const { data, response } = await stack
      .openai(secret)
      .responses.create({ model, instructions: "be brief", input: "Hello!" })
      .withResponse();
    expect(data.object).toBe("response");
    expect(data.status).toBe("completed");
    expect(data.output_text).toBe(defaultText(defaultOutputTokens));
    expect(data.usage?.output_tokens).toBe(defaultOutputTokens);
    const requestId = response.headers.get("x-request-id")!;
    const row = await ledgerRow(requestId);
    expect(row).toMatchObject({ status: 200, code: null, provider: `fake-${kind}` });
    expect(row.input_tokens).toBe(data.usage?.input_tokens);
    expect(row.output_tokens).toBe(defaultOutputTokens);
    expect(BigInt(row.cost)).toBe(costOf(row, prices[0], prices[1]));
    expect(response.headers.get("x-osm-cost-usd")).toBe(formatUsd(BigInt(row.cost)));
    // The gateway's output bound reached the provider: the model's ceiling, as max_tokens does.
    const upstream = lastUpstreamBody();
    expect(upstream[kind === "openai" ? "max_output_tokens" : "max_tokens"]).toBe(
      kind === "openai" ? 16384 : 8192,
    );
  });

  it("streams through responses.stream, charging the terminal event's usage", async () => {
    const stream = stack.openai(secret).responses.stream({ model, input: "Hello!" });
    const types: string[] = [];
    stream.on("event", (event) => types.push(event.type));
    const final = await stream.finalResponse();
    expect(types[0]).toBe("response.created");
    expect(types.filter((t) => t === "response.output_text.delta")).toHaveLength(
      defaultOutputTokens,
    );
    expect(types.at(-1)).toBe("response.completed");
    expect(final.status).toBe("completed");
    expect(final.usage?.output_tokens).toBe(defaultOutputTokens);
    const text = (final.output[0] as { content: { text: string }[] }).content[0]!.text;
    expect(text).toBe(defaultText(defaultOutputTokens));
  });

  it("ends incomplete at max_output_tokens and charges what was produced", async () => {
    const { data, response } = await stack
      .openai(secret)
      .responses.create({ model, input: "Hello!", max_output_tokens: 5 })
      .withResponse();
    expect(data.status).toBe("incomplete");
    expect(data.incomplete_details?.reason).toBe("max_output_tokens");
    const row = await ledgerRow(response.headers.get("x-request-id")!);
    expect(row.output_tokens).toBe(5);
  });

  it("calls function tools, streamed and not", async () => {
    stack.fake.script(model, { toolCall: { name: "get_weather", arguments: { city: "Paris" } } });
    const tools = [
      {
        type: "function" as const,
        name: "get_weather",
        parameters: { type: "object", properties: { city: { type: "string" } } },
        strict: false,
      },
    ];
    const created = await stack
      .openai(secret)
      .responses.create({ model, input: "Weather?", tools });
    expect(created.output).toEqual([
      expect.objectContaining({
        type: "function_call",
        name: "get_weather",
        arguments: '{"city":"Paris"}',
      }),
    ]);
    const streamed = await stack
      .openai(secret)
      .responses.stream({ model, input: "Weather?", tools })
      .finalResponse();
    expect(streamed.output[0]).toMatchObject({
      type: "function_call",
      arguments: '{"city":"Paris"}',
    });
  });

  it("charges an aborted stream only what was produced", async () => {
    stack.fake.script(model, { outputTokens: 5000, chunkDelayMs: 2 });
    const controller = new AbortController();
    const stream = await stack
      .openai(secret)
      .responses.create({ model, input: "long", stream: true }, { signal: controller.signal })
      .withResponse();
    let deltas = 0;
    try {
      for await (const event of stream.data) {
        if (event.type === "response.output_text.delta" && ++deltas === 5) controller.abort();
      }
    } catch {
      // The abort ends the iteration.
    }
    const row = await ledgerRow(stream.response.headers.get("x-request-id")!);
    expect(row.output_tokens).toBeGreaterThanOrEqual(5);
    expect(row.output_tokens).toBeLessThan(5000);
    expect(BigInt(row.cost)).toBe(costOf(row, prices[0], prices[1]));
    await waitFor("the upstream abort", async () =>
      stack.fake.requests.find((r) => r.model === model && r.outcome === "aborted"),
    );
  });
});

describe("native forwarding to OpenAI-kind providers", () => {
  it("passes hosted tools and unknown fields through untouched", async () => {
    await stack.openai(secret).responses.create({
      model: GPT,
      input: "search",
      tools: [{ type: "web_search" }],
      // @ts-expect-error: a field the SDK does not know yet reaches the provider all the same.
      future_field: { x: 1 },
    });
    expect(lastUpstreamBody()).toMatchObject({
      tools: [{ type: "web_search" }],
      future_field: { x: 1 },
    });
  });

  it("retrieves, cancels and deletes responses for the key's own project only", async () => {
    const client = stack.openai(secret);
    const created = await client.responses.create({ model: GPT, input: "keep" });
    const fetched = await client.responses.retrieve(created.id);
    expect(fetched.output_text).toBe(created.output_text);

    const other = await stack.tenant();
    const error = await stack
      .openai(other.secret)
      .responses.retrieve(created.id)
      .catch((e) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(404);
    expect((error as APIError).code).toBe("not_found");

    const queued = await client.responses.create({ model: GPT, input: "later", background: true });
    expect((await client.responses.cancel(queued.id)).status).toBe("cancelled");

    await client.responses.delete(created.id);
    const gone = await client.responses.retrieve(created.id).catch((e) => e);
    expect((gone as APIError).status).toBe(404);
  });

  it("charges a stream that ends with response.failed from its terminal usage", async () => {
    stack.fake.scriptNext({ failed: true, outputTokens: 3 });
    const stream = await stack
      .openai(secret)
      .responses.create({ model: GPT, input: "x", stream: true })
      .withResponse();
    const types: string[] = [];
    for await (const event of stream.data) types.push(event.type);
    expect(types.at(-1)).toBe("response.failed");
    const row = await ledgerRow(stream.response.headers.get("x-request-id")!);
    expect(row.output_tokens).toBe(3);
    expect(BigInt(row.cost)).toBe(costOf(row, 150_000_000n, 600_000_000n));
  });

  it("charges a stream cut before its terminal event what was produced, as an upstream error", async () => {
    const t = await stack.tenant();
    stack.fake.scriptNext({ reset: "mid-stream", outputTokens: 20 });
    const error = await stack
      .openai(t.secret)
      .responses.stream({ model: GPT, input: "x" })
      .finalResponse()
      .catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    const [row] = await waitFor("the cut stream's ledger row", async () => {
      const rows = await stack.services.sql<LedgerRow[]>`
        select * from usage_ledger where key_id = ${t.key.id} and code = 'upstream_error'`;
      return rows.length > 0 ? rows : undefined;
    });
    expect(row!.output_tokens).toBeGreaterThan(0);
    expect(row!.output_tokens).toBeLessThan(20);
  });

  it("answers 405 for other methods on a response", async () => {
    const res = await fetch(`${stack.proxies[0]!.url}/v1/responses/resp_x`, {
      method: "PUT",
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, DELETE");
  });
});

describe("refusals", () => {
  async function refusal(body: Record<string, unknown>, key = secret) {
    const res = await fetch(`${stack.proxies[0]!.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { error: { code: string; param: string; message: string } };
    return { status: res.status, ...json.error };
  }

  it.each([
    [{ tools: [{ type: "web_search" }] }, "tools", /web_search/],
    [{ previous_response_id: "resp_1" }, "previous_response_id", /Anthropic/],
    [{ text: { format: { type: "json_object" } } }, "text", /Anthropic/],
    [{ input: [{ type: "reasoning", id: "rs_1", summary: [] }] }, "input", /reasoning/],
  ])("names what an Anthropic model cannot do: %o", async (extra, param, message) => {
    const before = stack.fake.countFor(HAIKU);
    const error = await refusal({ model: HAIKU, input: "x", ...extra });
    expect(error).toMatchObject({ status: 400, code: "invalid_request", param });
    expect(error.message).toMatch(message);
    expect(stack.fake.countFor(HAIKU)).toBe(before);
  });

  it.each([
    [{ model: GPT }, "input"],
    [{ model: GPT, input: 3 }, "input"],
    [{ model: GPT, input: "x", max_output_tokens: 0 }, "max_output_tokens"],
    [{ model: GPT, input: "x", stream: "yes" }, "stream"],
    [{ input: "x" }, "model"],
  ])("refuses malformed %o", async (body, param) => {
    const before = stack.fake.countFor();
    expect(await refusal(body)).toMatchObject({ status: 400, code: "invalid_request", param });
    expect(stack.fake.countFor()).toBe(before);
  });
});

describe("keys with a spending limit", () => {
  it("names max_output_tokens when the key's policy or budget refuses the bound", async () => {
    const capped = await stack.tenant({ policy: { maxTokensPerRequest: 100 } });
    const overPolicy = await stack
      .openai(capped.secret)
      .responses.create({ model: GPT, input: "x", max_output_tokens: 200 })
      .catch((e) => e);
    expect(overPolicy).toMatchObject({
      status: 400,
      code: "max_tokens_exceeded",
      param: "max_output_tokens",
    });

    // $0.0001 affords 100 output tokens of the budget model ($1 per 1M output).
    const t = await stack.budgetTenant("0.0001");
    const overBudget = await stack
      .openai(t.secret)
      .responses.create({ model: t.model, input: "x", max_output_tokens: 1000 })
      .catch((e) => e);
    expect(overBudget).toMatchObject({
      status: 403,
      code: "spending_limit_reached",
      param: "max_output_tokens",
    });
    expect((overBudget as APIError).message).toMatch(/max_output_tokens 1000/);
  });

  it.each([
    [{ conversation: "conv_1" }, "conversation"],
    [{ background: true }, "background"],
    [{ prompt: { id: "pmpt_1" } }, "prompt"],
    [{ previous_response_id: "resp_unknown" }, "previous_response_id"],
  ])("refuses context it cannot price: %o", async (extra, param) => {
    const t = await stack.budgetTenant("1");
    const before = stack.fake.countFor(t.upstreamModel);
    const res = await fetch(`${stack.proxies[0]!.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ model: t.model, input: "x", ...extra }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe(param);
    expect(body.error.message).toMatch(/spending limit/);
    expect(stack.fake.countFor(t.upstreamModel)).toBe(before);
  });

  it("continues a response it forwarded, reserving the earlier context too", async () => {
    const t = await stack.budgetTenant("1");
    const client = stack.openai(t.secret);
    const first = await client.responses.create({ model: t.model, input: "hi" });
    const { data, response } = await client.responses
      .create({ model: t.model, input: "again", previous_response_id: first.id })
      .withResponse();
    expect(data.usage?.input_tokens).toBeGreaterThan(first.usage!.total_tokens);
    const row = await ledgerRow(response.headers.get("x-request-id")!);
    expect(row.status).toBe(200);

    // Another project's key with a limit cannot continue it.
    const other = await stack.budgetTenant("1");
    const error = await stack
      .openai(other.secret)
      .responses.create({ model: other.model, input: "x", previous_response_id: first.id })
      .catch((e) => e);
    expect((error as APIError).status).toBe(400);
  });
});

describe("cached input pricing", () => {
  it.each([
    ["chat", GPT, 150_000_000n, 75_000_000n],
    ["chat", HAIKU, 800_000_000n, 80_000_000n],
    ["responses", GPT, 150_000_000n, 75_000_000n],
    ["responses", HAIKU, 800_000_000n, 80_000_000n],
  ] as const)(
    "%s on %s charges cached tokens at the cached price",
    async (api, model, input, cached) => {
      stack.fake.script(model, {
        usageOverride: { prompt_tokens: 1000, cached_tokens: 600, completion_tokens: 0 },
      });
      const client = stack.openai(secret);
      const { response } =
        api === "chat"
          ? await client.chat.completions
              .create({ model, messages: [{ role: "user", content: "x" }] })
              .withResponse()
          : await client.responses.create({ model, input: "x" }).withResponse();
      const row = await ledgerRow(response.headers.get("x-request-id")!);
      expect(row.input_tokens).toBe(1000);
      expect(BigInt(row.cost)).toBe((400n * input + 600n * cached + 999_999n) / 1_000_000n);
    },
  );

  it("charges cached tokens the full input price on a model without a cached price", async () => {
    const t = await stack.tenant();
    await stack.master.models.create.mutate({
      projectId: t.projectId,
      id: "uncached-model",
      providerId: "fake-openai",
      upstreamModel: "uncached-upstream",
      inputUsdPer1M: "1",
      outputUsdPer1M: "0",
      tier: "paid",
    });
    stack.fake.script("uncached-upstream", {
      usageOverride: { prompt_tokens: 1000, cached_tokens: 600, completion_tokens: 0 },
    });
    const { response } = await stack
      .openai(t.secret)
      .responses.create({ model: "uncached-model", input: "x" })
      .withResponse();
    const row = await ledgerRow(response.headers.get("x-request-id")!);
    // 1000 tokens at $1 per 1M, none of them discounted.
    expect(BigInt(row.cost)).toBe(1_000_000n);
  });
});

describe.each([
  { kind: "openai", stream: false },
  { kind: "openai", stream: true },
  { kind: "anthropic", stream: false },
  { kind: "anthropic", stream: true },
])(
  "200 concurrent Responses requests over two proxies ($kind, stream: $stream)",
  ({ kind, stream }) => {
    it("never spends past the limit, calls the provider once per success, conserves money", async () => {
      // budgetTenant's model: input free, $1 per 1M output; 16 output tokens cost 16,000 nanos,
      // and with max_output_tokens 16 the worst case reserved equals the cost.
      const cost = 16_000n;
      const limit = cost * 10n + cost / 2n;
      const t = await stack.budgetTenant((Number(limit) / 1e9).toFixed(9));
      if (kind === "anthropic") {
        await stack.master.models.update.mutate({
          projectId: t.projectId,
          id: t.model,
          providerId: "fake-anthropic",
        });
        // Both proxies route the model to the Anthropic-kind provider before the burst.
        await waitFor("the catalog change on both proxies", async () => {
          for (const proxy of stack.proxies) {
            const catalog = await proxy.deps.catalogs.get(t.projectId);
            if (catalog.models.get(t.model)?.providerId !== "fake-anthropic") return undefined;
          }
          return true;
        });
      }
      const before = stack.fake.countFor(t.upstreamModel);
      const outcomes = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const res = await fetch(`${stack.proxies[i % 2]!.url}/v1/responses`, {
            method: "POST",
            headers: { authorization: `Bearer ${t.secret}`, "content-type": "application/json" },
            body: JSON.stringify({ model: t.model, input: "hi", max_output_tokens: 16, stream }),
          });
          const text = await res.text();
          if (res.status !== 200) return JSON.parse(text).error.code as string;
          return !stream || text.includes("event: response.completed") ? "ok" : "stream_failed";
        }),
      );
      const ok = outcomes.filter((o) => o === "ok").length;
      expect(ok).toBeGreaterThanOrEqual(10);
      expect(ok + outcomes.filter((o) => o === "spending_limit_reached").length).toBe(200);
      expect(stack.fake.countFor(t.upstreamModel) - before).toBe(ok);
      // Every request, allowed or refused, leaves one ledger row.
      const spent = await waitFor("200 ledger rows", async () => {
        const [row] = await stack.services.sql<{ cost: string; n: number }[]>`
        select coalesce(sum(cost), 0)::text as cost, count(*)::int as n
        from usage_ledger where key_id = ${t.key.id}`;
        return row!.n === 200 ? row : undefined;
      });
      expect(BigInt(spent!.cost)).toBe(cost * BigInt(ok));
      expect(BigInt(spent!.cost)).toBeLessThanOrEqual(limit);
      const { mismatches } = await moneyConservation(stack.services);
      expect(mismatches).toEqual([]);
    });
  },
);

describe("end-user attribution", () => {
  it("records safety_identifier / user and x-osm-tags on the log row, filterable in logs and usage", async () => {
    const t = await stack.tenant();
    const client = stack.openai(t.secret);
    const tagged = { headers: { "x-osm-tags": "team:search, feature=summary,team:search" } };
    const chat = await client.chat.completions
      .create({ model: GPT, messages: [{ role: "user", content: "x" }], user: "alice" }, tagged)
      .withResponse();
    const response = await client.responses
      .create({ model: HAIKU, input: "x", safety_identifier: "bob", user: "ignored" }, tagged)
      .withResponse();
    const untagged = await client.responses.create({ model: GPT, input: "x" }).withResponse();
    const ids = [chat, response, untagged].map((r) => r.response.headers.get("x-request-id")!);
    const rows = await Promise.all(ids.map(ledgerRow));
    expect(rows.map((r) => [r.end_user, r.tags])).toEqual([
      ["alice", ["team:search", "feature=summary"]],
      ["bob", ["team:search", "feature=summary"]],
      [null, null],
    ]);

    const byUser = await stack.master.logs.list.query({ projectId: t.projectId, endUser: "bob" });
    expect(byUser.items.map((i) => i.requestId)).toEqual([ids[1]]);
    expect(byUser.items[0]).toMatchObject({
      endUser: "bob",
      tags: ["team:search", "feature=summary"],
    });
    const byTag = await stack.master.logs.list.query({
      projectId: t.projectId,
      tag: "team:search",
    });
    expect(byTag.items.map((i) => i.requestId).sort()).toEqual([ids[0], ids[1]].sort());
    const summary = await stack.master.usage.summary.query({
      projectId: t.projectId,
      tag: "feature=summary",
    });
    expect(summary.overall.requests).toBe(2);
    const alice = await stack.master.usage.summary.query({
      projectId: t.projectId,
      endUser: "alice",
    });
    expect(alice.overall.requests).toBe(1);
    expect(alice.overall.costUsd).toBe(formatUsd(BigInt(rows[0]!.cost)));
  });

  it.each([
    "bad tag with spaces",
    Array.from({ length: 11 }, (_, i) => `t${i}`).join(","),
    "x".repeat(65),
    "-leading",
  ])("refuses the x-osm-tags header %j before forwarding", async (header) => {
    const before = stack.fake.countFor();
    const res = await fetch(`${stack.proxies[0]!.url}/v1/responses`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${secret}`,
        "content-type": "application/json",
        "x-osm-tags": header,
      },
      body: JSON.stringify({ model: GPT, input: "x" }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.message).toMatch(/x-osm-tags/);
    expect(stack.fake.countFor()).toBe(before);
  });

  it("refuses a user field that is not a string", async () => {
    const res = await fetch(`${stack.proxies[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: JSON.stringify({ model: GPT, messages: [{ role: "user", content: "x" }], user: 42 }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe("user");
  });
});
