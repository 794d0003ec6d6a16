import type { RunningProxy } from "@osm/proxy/server";
import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody } from "./error-body.ts";

let stack: GatewayStack;
let secret: string;
let keyId: string;

async function ledgerRow(requestId: string) {
  for (let i = 0; i < 200; i++) {
    const [row] = await stack.services
      .sql`select * from usage_ledger where request_id = ${requestId}`;
    if (row) return row;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ledger row for ${requestId}`);
}

beforeAll(async () => {
  stack = await startGatewayStack();
  const t = await stack.tenant();
  secret = t.secret;
  keyId = t.key.id;
});
afterAll(() => stack.close());

describe("chat completions through the official SDK", () => {
  it("answers JSON with cost and request id headers", async () => {
    const { data, response } = await stack
      .openai(secret)
      .chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "Hello!" }],
      })
      .withResponse();
    expect(data.choices[0]!.message.content).toContain("héllo");
    expect(data.usage?.completion_tokens).toBe(16);
    expect(response.headers.get("x-request-id")).toMatch(/^req_/);
    // 16 output tokens at $0.6/1M + prompt tokens at $0.15/1M, rounded up to the nano.
    const prompt = data.usage!.prompt_tokens;
    const expected = Math.ceil((prompt * 0.15e9 + 16 * 0.6e9) / 1e6) / 1e9;
    expect(Number(response.headers.get("x-osm-cost-usd"))).toBeCloseTo(expected, 9);
    const upstream = stack.fake.requests.at(-1)!;
    expect(upstream.headers.authorization).toBe("Bearer sk-upstream-secret-123");
    expect((upstream.body as { max_tokens?: number }).max_tokens).toBe(16384);
  });

  it("streams, strips the usage chunk the client did not ask for, and charges it", async () => {
    const stream = await stack.openai(secret).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Stream please" }],
      stream: true,
    });
    let text = "";
    let usageChunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) usageChunks++;
    }
    expect(text.split(" ").filter(Boolean)).toHaveLength(16);
    expect(usageChunks).toBe(0);
    const upstream = stack.fake.requests.at(-1)!;
    expect(
      (upstream.body as { stream_options?: { include_usage?: boolean } }).stream_options
        ?.include_usage,
    ).toBe(true);
  });

  it("passes usage through when the client asks, with fragmented gzip upstream streams", async () => {
    stack.fake.script("gpt-4o", {
      fragment: true,
      gzip: true,
      crlf: true,
      comments: true,
      outputTokens: 40,
    });
    const { data: stream, response } = await stack
      .openai(secret)
      .chat.completions.create({
        model: "gpt-4o",
        messages: [{ role: "user", content: "naïve 日本 🌍" }],
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    let text = "";
    let usage: { completion_tokens: number } | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(usage?.completion_tokens).toBe(40);
    expect(text.split(" ").filter(Boolean)).toHaveLength(40);
    const row = await ledgerRow(response.headers.get("x-request-id")!);
    expect(row).toMatchObject({
      outcome: "allowed",
      output_tokens: 40,
      stream: true,
      key_id: keyId,
      model: "gpt-4o",
    });
  });

  it("charges the prompt bound when a streamed usage chunk has no prompt_tokens", async () => {
    const messages = [{ role: "user" as const, content: "How many tokens is this prompt?" }];
    stack.fake.scriptNext({ omitUsage: true });
    const json = await stack
      .openai(secret)
      .chat.completions.create({ model: "gpt-4o-mini", messages })
      .withResponse();
    const bound = (await ledgerRow(json.response.headers.get("x-request-id")!)).input_tokens;
    expect(bound).toBeGreaterThan(0);

    stack.fake.scriptNext({ omitPromptTokens: true });
    const { data: stream, response } = await stack
      .openai(secret)
      .chat.completions.create({ model: "gpt-4o-mini", messages, stream: true })
      .withResponse();
    for await (const _ of stream);
    const row = await ledgerRow(response.headers.get("x-request-id")!);
    expect(row).toMatchObject({ outcome: "allowed", input_tokens: bound, output_tokens: 16 });
  });

  it("forwards tools and returns tool calls", async () => {
    stack.fake.script("gpt-4.1", {
      toolCall: { name: "get_weather", arguments: { city: "Paris" } },
    });
    const tools = [
      {
        type: "function" as const,
        function: {
          name: "get_weather",
          parameters: { type: "object", properties: { city: { type: "string" } } },
        },
      },
    ];
    const answer = await stack.openai(secret).chat.completions.create({
      model: "gpt-4.1",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools,
      tool_choice: "auto",
    });
    const call = answer.choices[0]!.message.tool_calls![0]!;
    expect(call.type === "function" && call.function.name).toBe("get_weather");
    expect(JSON.parse(call.type === "function" ? call.function.arguments : "{}")).toEqual({
      city: "Paris",
    });
    expect((stack.fake.requests.at(-1)!.body as { tools?: unknown }).tools).toEqual(tools);
  });

  it("lists only models the key may use, and serves embeddings", async () => {
    const t = await stack.tenant({
      policy: { models: { allow: ["gpt-4o*", "text-embedding-3-small"] } },
    });
    const models = await stack.openai(t.secret).models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual([
      "gpt-4o",
      "gpt-4o-mini",
      "text-embedding-3-small",
    ]);
    const emb = await stack
      .openai(t.secret)
      .embeddings.create({ model: "text-embedding-3-small", input: ["a", "b"] });
    expect(emb.data).toHaveLength(2);
  });
});

describe("errors", () => {
  async function failure(promise: Promise<unknown>) {
    try {
      await promise;
    } catch (err) {
      if (err instanceof APIError) return err;
      throw err;
    }
    throw new Error("expected a failure");
  }

  it("refuses a malformed key, an unknown key and a missing key with 401 invalid_api_key", async () => {
    for (const bad of ["osm_nope", `osm_${"A".repeat(35)}AAAAAA`, ""]) {
      const err = await failure(
        stack
          .openai(bad || "x")
          .chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] }),
      );
      expect(err.status).toBe(401);
      expect((err.error as { code?: string }).code).toBe("invalid_api_key");
    }
  });

  it("renders the contract body for a policy violation", async () => {
    const t = await stack.tenant({ policy: { models: { block: ["gpt-4o"] } } });
    const res = await fetch(`${stack.proxies[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] }),
    });
    expect(res.status).toBe(403);
    const body = (await res.json()) as ErrorBody;
    expect(body).toEqual({
      error: {
        message: expect.stringMatching(/^Policy Violation: .*gpt-4o/),
        type: "policy_violation",
        code: "model_not_allowed",
        param: "model",
      },
      status: 403,
      message: body.error.message,
    });
    const row = await ledgerRow(res.headers.get("x-request-id")!);
    expect(row).toMatchObject({ outcome: "denied", code: "model_not_allowed", status: 403 });
  });

  it("maps provider errors", async () => {
    const cases = [
      [{ status: 429, retryAfter: 7 }, 429, "upstream_rate_limited"],
      [{ status: 500 }, 502, "upstream_error"],
      [{ status: 401 }, 502, "upstream_auth_failed"],
      [{ status: 400, errorMessage: "bad temperature" }, 400, "upstream_invalid_request"],
      [{ reset: "before-headers" }, 502, "upstream_error"],
    ] as const;
    for (const [behaviour, status, code] of cases) {
      stack.fake.scriptNext(behaviour);
      const err = await failure(
        stack.openai(secret).chat.completions.create({
          model: "gpt-4o-mini",
          messages: [{ role: "user", content: "x" }],
        }),
      );
      expect([err.status, (err.error as { code?: string }).code]).toEqual([status, code]);
      if (code === "upstream_rate_limited") expect(err.headers?.get("retry-after")).toBe("7");
      expect(JSON.stringify(err.error)).not.toContain("sk-upstream");
    }
  });

  it("answers unknown routes, wrong methods and bad JSON with JSON errors", async () => {
    const base = stack.proxies[0]!.url;
    const notFound = await fetch(`${base}/v1/nope`);
    expect([notFound.status, ((await notFound.json()) as ErrorBody).error.code]).toEqual([
      404,
      "not_found",
    ]);
    const wrongMethod = await fetch(`${base}/v1/chat/completions`);
    expect([wrongMethod.status, ((await wrongMethod.json()) as ErrorBody).error.code]).toEqual([
      405,
      "method_not_allowed",
    ]);
    const badJson = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: "{nope",
    });
    expect([badJson.status, ((await badJson.json()) as ErrorBody).error.code]).toEqual([
      400,
      "invalid_request",
    ]);
  });

  it("ends a stream that fails mid-way with one error event and no [DONE]", async () => {
    stack.fake.scriptNext({ reset: "mid-stream", outputTokens: 50, chunkDelayMs: 2 });
    const res = await fetch(`${stack.proxies[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "x" }],
        stream: true,
      }),
    });
    const text = await res.text();
    const events = text.split("\n\n").filter(Boolean);
    expect(events.at(-1)).toMatch(/^data: \{"error":\{.*"code":"upstream_error"/);
    expect(text).not.toContain("[DONE]");
  });
});

describe("failed authentications", () => {
  const post = (url: string, authorization: string, forwardedFor?: string) =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization,
        "content-type": "application/json",
        ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}),
      },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] }),
    });
  const guesses = async (url: string, count: number, forwardedFor?: string) => {
    const statuses: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await post(url, `Bearer osm_guess${i}`, forwardedFor);
      statuses.push(res.status);
      ids.push(res.headers.get("x-request-id") ?? "");
    }
    return { statuses, ids };
  };
  const served = async (proxy: RunningProxy) => {
    const { data, response } = await stack
      .openai(secret, proxy)
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBeTruthy();
    return response.headers.get("x-request-id")!;
  };

  it("are throttled per client address with 429, while a valid key from there is still served", async () => {
    const proxy = await stack.addProxy();
    const failed = await guesses(proxy.url, 35);
    expect(failed.statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(failed.statuses.slice(30).every((s) => s === 429)).toBe(true);
    // The valid key is not in this proxy's cache yet: it is read from PostgreSQL all the same.
    const servedId = await served(proxy);
    const limited = await post(proxy.url, "Bearer osm_guess-again");
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as ErrorBody).error.code).toBe("rate_limit_exceeded");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    failed.ids.push(limited.headers.get("x-request-id") ?? "");
    await served(proxy);
    // Once the served request's row is in, no failed attempt has one.
    await ledgerRow(servedId);
    const rows = await stack.services.sql`
      select count(*)::int as n from usage_ledger where request_id in ${stack.services.sql(failed.ids)}`;
    expect(rows[0]!.n).toBe(0);
  });

  it("believe X-Forwarded-For only from a trusted proxy, and count IPv6 by /64", async () => {
    const proxy = await stack.addProxy({ trustedProxies: ["127.0.0.0/8", "::1/128"] });
    await guesses(proxy.url, 30, "198.51.100.1");
    expect((await post(proxy.url, "Bearer osm_x", "198.51.100.1")).status).toBe(429);
    // The balancer's own address is not the client's: another client behind it is unaffected.
    expect((await post(proxy.url, "Bearer osm_x", "198.51.100.2")).status).toBe(401);
    // A client prepending a forged hop is still counted by the hop our balancer saw.
    expect((await post(proxy.url, "Bearer osm_x", "203.0.113.5, 198.51.100.1")).status).toBe(429);

    await guesses(proxy.url, 30, "2001:db8:7:7::1");
    expect((await post(proxy.url, "Bearer osm_x", "2001:db8:7:7:ffff::2")).status).toBe(429);
    expect((await post(proxy.url, "Bearer osm_x", "2001:db8:7:8::1")).status).toBe(401);

    const untrusting = await stack.addProxy();
    await guesses(untrusting.url, 30, "198.51.100.1");
    // From an untrusted peer the header is the client's own claim: the peer is what counts.
    expect((await post(untrusting.url, "Bearer osm_x", "198.51.100.2")).status).toBe(429);
    await served(untrusting);
  });
});
