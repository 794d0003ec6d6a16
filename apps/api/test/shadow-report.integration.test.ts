import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The shadow report counts the ledger's shadow_code written for real requests through the
// gateway: the proxy lets them through, the worker records the would-be denial.

let stack: GatewayStack;

beforeAll(async () => {
  stack = await startGatewayStack();
});
afterAll(() => stack?.close());

async function chat(secret: string, model: string, maxTokens: number) {
  return stack.openai(secret).chat.completions.create({
    model,
    messages: [{ role: "user", content: "hi" }],
    max_tokens: maxTokens,
  });
}

/** Polls until the worker has written `n` ledger rows for the key (usage leaves the request path). */
async function ledgerRows(projectId: string, keyId: string, n: number) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const page = await stack.master.logs.list.query({ projectId, keyId });
    if (page.items.length >= n || Date.now() > deadline) return page.items;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("policy.shadowReport", () => {
  it("counts shadow denials made through the gateway, by rule, and nothing else", async () => {
    const t = await stack.tenant({
      policy: { mode: "shadow", models: { block: ["gpt-4o"] }, maxTokensPerRequest: 8 },
    });
    await chat(t.secret, "gpt-4o", 4);
    await chat(t.secret, "gpt-4o", 4);
    await chat(t.secret, "gpt-4o-mini", 16);
    await chat(t.secret, "gpt-4o-mini", 4);
    const rows = await ledgerRows(t.projectId, t.key.id, 4);
    expect(rows.map((r) => r.outcome)).toEqual(["allowed", "allowed", "allowed", "allowed"]);

    const report = await stack.master.policy.shadowReport.query({ keyId: t.key.id });
    expect(report).toMatchObject({
      mode: "shadow",
      total: 3,
      items: [
        { code: "model_not_allowed", rule: "models.block", count: 2 },
        { code: "max_tokens_exceeded", rule: "maxTokensPerRequest", count: 1 },
      ],
    });

    const shadowed = await stack.master.logs.list.query({
      projectId: t.projectId,
      keyId: t.key.id,
      outcome: "shadow_denied",
    });
    expect(shadowed.items.map((r) => [r.model, r.shadowCode]).sort()).toEqual([
      ["gpt-4o", "model_not_allowed"],
      ["gpt-4o", "model_not_allowed"],
      ["gpt-4o-mini", "max_tokens_exceeded"],
    ]);
  });

  it("is empty for an enforcing key, whose denials are real ones", async () => {
    const t = await stack.tenant({ policy: { models: { block: ["gpt-4o"] } } });
    await expect(chat(t.secret, "gpt-4o", 4)).rejects.toMatchObject({
      status: 403,
      code: "model_not_allowed",
    });
    await ledgerRows(t.projectId, t.key.id, 1);
    const report = await stack.master.policy.shadowReport.query({ keyId: t.key.id });
    expect(report).toMatchObject({ mode: "enforce", total: 0, items: [] });
  });
});
