import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: GatewayStack;

beforeAll(async () => {
  stack = await startGatewayStack();
  await stack.addProxy();
});
afterAll(() => stack.close());

async function seenVersion(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^osm_proxy_seen_version (\d+)/m.exec(text)?.[1] ?? 0);
}

/** Waits until every proxy reports having seen `version` (deadline 5× the 1 s target); returns ms. */
async function propagated(version: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const seen = await Promise.all(stack.proxies.map((p) => seenVersion(p.metricsUrl)));
    if (seen.every((v) => v >= version)) return performance.now() - started;
    if (performance.now() - started > 5_000)
      throw new Error(`proxies saw ${seen.join(", ")}, want ${version}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function chat(secret: string, proxyIndex: number) {
  try {
    await stack.openai(secret, stack.proxies[proxyIndex]).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
    });
    return "ok";
  } catch (err) {
    if (err instanceof APIError) return (err.error as { code?: string }).code ?? String(err.status);
    throw err;
  }
}

async function versionOf(keyId: string): Promise<number> {
  const [row] = await stack.services.sql`select version from api_keys where id = ${keyId}`;
  return Number(row!.version);
}

describe("changes reach every proxy with warm caches", () => {
  it("deactivation, reactivation, revocation and rotation take effect on both proxies", async () => {
    const t = await stack.tenant();
    expect([await chat(t.secret, 0), await chat(t.secret, 1)]).toEqual(["ok", "ok"]);

    await stack.master.keys.setActive.mutate({ id: t.key.id, active: false });
    const deactivateMs = await propagated(await versionOf(t.key.id));
    expect([await chat(t.secret, 0), await chat(t.secret, 1)]).toEqual([
      "key_inactive",
      "key_inactive",
    ]);

    await stack.master.keys.setActive.mutate({ id: t.key.id, active: true });
    await propagated(await versionOf(t.key.id));
    expect([await chat(t.secret, 0), await chat(t.secret, 1)]).toEqual(["ok", "ok"]);

    const rotated = await stack.master.keys.rotate.mutate({ id: t.key.id, gracePeriodSeconds: 0 });
    const rotateMs = await propagated(await versionOf(t.key.id));
    expect([await chat(t.secret, 0), await chat(t.secret, 1)]).toEqual([
      "invalid_api_key",
      "invalid_api_key",
    ]);
    expect([await chat(rotated.secret, 0), await chat(rotated.secret, 1)]).toEqual(["ok", "ok"]);

    await stack.master.keys.revoke.mutate({ id: t.key.id });
    const revokeMs = await propagated(await versionOf(t.key.id));
    expect([await chat(rotated.secret, 0), await chat(rotated.secret, 1)]).toEqual([
      "invalid_api_key",
      "invalid_api_key",
    ]);
    console.info(
      `propagation ms: deactivate ${deactivateMs.toFixed(1)}, rotate ${rotateMs.toFixed(1)}, revoke ${revokeMs.toFixed(1)}`,
    );
  });

  it("refuses the keys of a deleted project on both proxies", async () => {
    const t = await stack.tenant();
    expect([await chat(t.secret, 0), await chat(t.secret, 1)]).toEqual(["ok", "ok"]);
    await stack.master.projects.delete.mutate({ id: t.projectId });
    const [row] = await stack.services.sql`select last_value from change_version`;
    await propagated(Number(row!.last_value));
    expect([await chat(t.secret, 0), await chat(t.secret, 1)]).toEqual([
      "invalid_api_key",
      "invalid_api_key",
    ]);
  });

  it("keeps the old secret during a rotation grace on both proxies", async () => {
    const t = await stack.tenant();
    await chat(t.secret, 0);
    const rotated = await stack.master.keys.rotate.mutate({
      id: t.key.id,
      gracePeriodSeconds: 3600,
    });
    await propagated(await versionOf(t.key.id));
    expect([
      await chat(t.secret, 0),
      await chat(t.secret, 1),
      await chat(rotated.secret, 1),
    ]).toEqual(["ok", "ok", "ok"]);
  });

  it("ends a revoked key's in-flight stream on the other proxy with the error event", async () => {
    const t = await stack.tenant();
    stack.fake.scriptNext({ outputTokens: 2000, chunkDelayMs: 5 });
    const res = await fetch(`${stack.proxies[1]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.secret}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "long" }],
        stream: true,
      }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    await stack.master.keys.revoke.mutate({ id: t.key.id });
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toMatch(/data: \{"error":\{[^\n]*"code":"invalid_api_key"/);
    expect(text).not.toContain("[DONE]");
    const requestId = res.headers.get("x-request-id")!;
    for (let i = 0; i < 200; i++) {
      const [row] = await stack.services
        .sql`select output_tokens, cost from usage_ledger where request_id = ${requestId}`;
      if (row) {
        expect(Number(row.output_tokens)).toBeGreaterThan(0);
        expect(BigInt(row.cost)).toBeGreaterThan(0n);
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("no ledger row");
  });
});

describe("a client that disconnects mid-stream", () => {
  it("aborts the upstream and charges the tokens produced", async () => {
    const t = await stack.tenant();
    stack.fake.scriptNext({ outputTokens: 5000, chunkDelayMs: 2, omitUsage: true });
    const controller = new AbortController();
    const res = await fetch(`${stack.proxies[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.secret}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "long" }],
        stream: true,
      }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    for (let i = 0; i < 5; i++) await reader.read();
    controller.abort();
    const requestId = res.headers.get("x-request-id")!;
    let row: Record<string, unknown> | undefined;
    for (let i = 0; i < 200 && !row; i++) {
      [row] = await stack.services.sql`select * from usage_ledger where request_id = ${requestId}`;
      if (!row) await new Promise((r) => setTimeout(r, 50));
    }
    expect(row).toBeDefined();
    const produced = Number(row!.output_tokens);
    expect(produced).toBeGreaterThan(0);
    expect(produced).toBeLessThan(5000);
    expect(BigInt(row!.cost as string)).toBeGreaterThan(0n);
    for (let i = 0; i < 100; i++) {
      const upstream = stack.fake.requests.find(
        (r) => r.headers["content-type"] && r.outcome === "aborted",
      );
      if (upstream) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("the upstream request was not aborted");
  });
});
