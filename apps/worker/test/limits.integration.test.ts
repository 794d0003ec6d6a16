import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { startWorker } from "@osm/testing/services";
import { testWorkerConfig } from "@osm/testing/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: GatewayStack;

beforeAll(async () => {
  stack = await startGatewayStack();
});
afterAll(() => stack.close());

async function chat(secret: string) {
  const res = await fetch(`${stack.proxies[0]!.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: "budget-model",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 16,
    }),
  });
  const body = (await res.json()) as { error?: { code: string } };
  return res.status === 200 ? "ok" : (body.error?.code ?? String(res.status));
}

async function statusWithin(keyId: string, want: string, deadlineMs = 10_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const key = await stack.master.keys.get.query({ id: keyId });
    if (key.status === want) return performance.now() - started;
    if (performance.now() - started > deadlineMs)
      throw new Error(`status ${key.status}, want ${want}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("limit flips", () => {
  it("shows limit_reached through the API soon after the request that hit the limit; a raise restores it", async () => {
    const t = await stack.budgetTenant("0.000032");
    expect(await chat(t.secret)).toBe("ok");
    expect(await chat(t.secret)).toBe("ok");
    const ms = await statusWithin(t.key.id, "limit_reached");
    console.info(`limit_reached visible through the API after ${ms.toFixed(0)} ms`);
    expect(await chat(t.secret)).toBe("spending_limit_reached");
    const audit = await stack.master.audit.list.query({ projectId: t.projectId });
    expect(audit.items.find((a) => a.action === "key.limit_reached")).toMatchObject({
      actorType: "system",
    });

    await stack.master.keys.update.mutate({ id: t.key.id, spendLimitUsd: "1" });
    await statusWithin(t.key.id, "active", 1);
    expect(await chat(t.secret)).toBe("ok");
  });

  it("flags a key refused because not even the smallest request fits", async () => {
    // 300 tokens' worth without max_tokens: the first request fits; the rest of the budget
    // no longer fits the 256-token minimum after a few, and the refusal flags the key.
    const t = await stack.budgetTenant("0.0003");
    const res = await fetch(`${stack.proxies[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "budget-model", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(200);
    const outcomes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${stack.proxies[0]!.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${t.secret}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: "budget-model",
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      outcomes.push(r.status);
    }
    expect(outcomes.at(-1)).toBe(403);
    await statusWithin(t.key.id, "limit_reached");
  });
});

describe("window housekeeping", () => {
  it("clears flags exactly once per key and window with two workers, never re-enabling a disabled key", async () => {
    const hit = await stack.budgetTenant("0.000016", { budgetPeriod: "daily" });
    const disabled = await stack.budgetTenant("0.000016", { budgetPeriod: "daily" });
    for (const t of [hit, disabled]) {
      expect(await chat(t.secret)).toBe("ok");
      await statusWithin(t.key.id, "limit_reached");
    }
    await stack.master.keys.setActive.mutate({ id: disabled.key.id, active: false });

    const second = await startWorker(
      testWorkerConfig(stack.services, {
        concurrency: 1,
        stalledIntervalMs: 1000,
        lockDurationMs: 2000,
      }),
    );
    try {
      const today = new Date();
      // Same window: nothing to clear.
      const sameDay = await Promise.all([stack.worker.resetDue(today), second.resetDue(today)]);
      expect(sameDay.reduce((n, r) => n + r.windowResets, 0)).toBe(0);
      // Tomorrow, both workers at once, twice: each key cleared exactly once.
      const tomorrow = new Date(
        Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 1, 0, 0, 0),
      );
      const passes = await Promise.all([
        stack.worker.resetDue(tomorrow),
        second.resetDue(tomorrow),
        stack.worker.resetDue(new Date(tomorrow.getTime() + 1000)),
      ]);
      expect(passes.reduce((n, r) => n + r.windowResets, 0)).toBe(2);
      const rows = await stack.services.sql`
        select key_id from window_resets where key_id in ${stack.services.sql([hit.key.id, disabled.key.id])}`;
      expect(rows).toHaveLength(2);
      expect((await stack.master.keys.get.query({ id: hit.key.id })).status).toBe("active");
      const still = await stack.master.keys.get.query({ id: disabled.key.id });
      expect([still.status, still.enabled]).toEqual(["inactive", false]);
      // A worker that starts days later catches up; these two keys are not cleared twice.
      await second.resetDue(new Date(tomorrow.getTime() + 3 * 86_400_000));
      const after = await stack.services.sql`
        select key_id from window_resets where key_id in ${stack.services.sql([hit.key.id, disabled.key.id])}`;
      expect(after).toHaveLength(2);
    } finally {
      await second.close();
    }
  });

  it("ends a rotation grace for good once it is over", async () => {
    const t = await stack.tenant();
    const rotated = await stack.master.keys.rotate.mutate({ id: t.key.id, gracePeriodSeconds: 60 });
    expect(rotated.key.rotation).not.toBeNull();
    const result = await stack.worker.resetDue(new Date(Date.now() + 120_000));
    expect(result.gracesEnded).toBeGreaterThanOrEqual(1);
    const [row] = await stack.services
      .sql`select previous_secret_hash from api_keys where id = ${t.key.id}`;
    expect(row!.previous_secret_hash).toBeNull();
  });
});
