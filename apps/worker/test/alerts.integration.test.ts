import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type BudgetAlertPayload,
  findDeliveryWithSettings,
  recordThresholdCrossed,
} from "@osm/db/queries/alert-deliveries";
import { jobNames } from "@osm/jobs/queues";
import { createCryptoBox } from "@osm/keys/crypto-box";
import { signWebhook } from "@osm/net/webhook";
import { testSecret } from "@osm/testing/api";
import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { usageEvent } from "@osm/testing/usage-events";
import { waitFor } from "@osm/testing/wait";
import { testWorkerConfig } from "@osm/testing/worker";
import type { Job } from "bullmq";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAlertDeliveryProcessor } from "../src/processors/alerts/deliver.ts";
import { checkAlertThresholds } from "../src/processors/alerts/thresholds.ts";
import { startWorker } from "../src/worker.ts";

let stack: GatewayStack;
const receivers: Receiver[] = [];

beforeAll(async () => {
  stack = await startGatewayStack();
});
afterAll(async () => {
  for (const r of receivers) await r.close();
  await stack?.close();
});

/** A receiver's check, as docs/alerts.md shows it: HMAC over `${t}.${raw body}`, fresh `t`. */
function verifySignature(
  secret: string,
  header: string | undefined,
  rawBody: string,
  nowMs = Date.now(),
  toleranceSeconds = 300,
): boolean {
  if (!header) return false;
  const parts = new Map(
    header.split(",").map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]),
  );
  const t = Number(parts.get("t"));
  if (!Number.isInteger(t) || Math.abs(nowMs / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${t}.${rawBody}`).digest();
  const given = Buffer.from(parts.get("v1") ?? "", "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

type Received = {
  headers: IncomingHttpHeaders;
  body: string;
  payload: BudgetAlertPayload;
  verified: boolean;
  answered: number;
};
type Receiver = {
  url: string;
  received: Received[];
  setSecret(secret: string): void;
  /** The thresholds of the deliveries it accepted, in arrival order. */
  thresholds(): number[];
  close(): Promise<void>;
};

/** A local webhook receiver that checks signatures; it answers 500 to its first `failFirst`. */
async function startReceiver(options: { failFirst?: number } = {}): Promise<Receiver> {
  const received: Received[] = [];
  let secret = "";
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const verified = verifySignature(secret, req.headers["osm-signature"] as string, body);
      const answered = !verified ? 401 : received.length < (options.failFirst ?? 0) ? 500 : 204;
      received.push({
        headers: req.headers,
        body,
        payload: JSON.parse(body) as BudgetAlertPayload,
        verified,
        answered,
      });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const receiver: Receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/osm`,
    received,
    setSecret(s: string) {
      secret = s;
    },
    thresholds: () => received.filter((r) => r.answered === 204).map((r) => r.payload.threshold),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  receivers.push(receiver);
  return receiver;
}

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
  await res.arrayBuffer();
  expect(res.status).toBe(200);
}

/** Waits until the worker has landed `n` requests of the key in the ledger. */
async function ledgerRows(keyId: string, n: number) {
  await waitFor(`${n} ledger rows of ${keyId}`, async () => {
    const [row] = await stack.services.sql<{ n: number }[]>`
      select count(*)::int as n from usage_ledger where key_id = ${keyId}`;
    return row!.n >= n ? row!.n : undefined;
  });
}

/** A tenant whose key affords exactly 10 requests (16,000 nano-USD each), with a webhook. */
async function alertedTenant(receiver: Receiver) {
  const t = await stack.budgetTenant("0.00016");
  const set = await stack.master.alerts.set.mutate({ projectId: t.projectId, url: receiver.url });
  receiver.setSecret(set.signingSecret);
  return { ...t, signingSecret: set.signingSecret };
}

const deliveredThresholds = (receiver: Receiver, n: number) =>
  waitFor(`${n} delivered webhooks`, async () => {
    const got = receiver.thresholds();
    return got.length >= n ? got : undefined;
  });

describe("budget alerts", () => {
  it("sends one signed webhook per threshold and window as a key crosses 50, 80 and 100 %", async () => {
    const receiver = await startReceiver();
    const t = await alertedTenant(receiver);

    for (let i = 0; i < 5; i++) await chat(t.secret);
    expect(await deliveredThresholds(receiver, 1)).toEqual([50]);

    for (let i = 0; i < 3; i++) await chat(t.secret);
    expect(await deliveredThresholds(receiver, 2)).toEqual([50, 80]);
    const eighty = receiver.received.find((r) => r.payload.threshold === 80)!;
    expect(eighty.verified).toBe(true);
    expect(eighty.headers["content-type"]).toBe("application/json");
    expect(eighty.headers["osm-event"]).toBe("budget.threshold");
    expect(eighty.headers["osm-signature"]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const now = new Date();
    expect(eighty.payload).toEqual({
      id: eighty.headers["osm-delivery-id"],
      type: "budget.threshold",
      projectId: t.projectId,
      keyId: t.key.id,
      threshold: 80,
      spentUsd: "0.000128",
      limitUsd: "0.00016",
      windowStart: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString(),
      windowEnd: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString(),
    });
    // Only the holder of the project's secret could have produced the signature.
    expect(
      verifySignature("whsec_someone-else", eighty.headers["osm-signature"] as string, eighty.body),
    ).toBe(false);

    // 90 %: between thresholds, nothing new; 80 % is not sent again.
    await chat(t.secret);
    await ledgerRows(t.key.id, 9);
    await sleep(750);
    expect(receiver.thresholds()).toEqual([50, 80]);

    // 100 %: the last request the budget affords.
    await chat(t.secret);
    expect(await deliveredThresholds(receiver, 3)).toEqual([50, 80, 100]);
    await sleep(500);
    expect(receiver.received).toHaveLength(3);
    expect(receiver.received.every((r) => r.verified)).toBe(true);

    const rows = await stack.services.sql<{ threshold: number }[]>`
      select threshold from alert_deliveries where key_id = ${t.key.id} order by threshold`;
    expect(rows.map((r) => r.threshold)).toEqual([50, 80, 100]);
    const page = await stack.master.alerts.deliveries.query({ projectId: t.projectId });
    expect(page.items).toHaveLength(3);
    for (const d of page.items)
      expect(d).toMatchObject({
        keyId: t.key.id,
        status: "delivered",
        attempts: 1,
        responseStatus: 204,
        lastError: null,
      });
    // The signing secret is nowhere in what the API returns about deliveries.
    expect(JSON.stringify(page)).not.toContain(t.signingSecret);
  });

  it("retries a failing receiver with backoff until it accepts, then shows the attempts", async () => {
    const receiver = await startReceiver({ failFirst: 2 });
    const t = await alertedTenant(receiver);
    for (let i = 0; i < 5; i++) await chat(t.secret);
    expect(await deliveredThresholds(receiver, 1)).toEqual([50]);

    expect(receiver.received.map((r) => r.answered)).toEqual([500, 500, 204]);
    // The same delivery every time, each attempt signed afresh.
    expect(new Set(receiver.received.map((r) => r.headers["osm-delivery-id"])).size).toBe(1);
    expect(receiver.received.every((r) => r.verified)).toBe(true);

    const delivery = await waitFor("the delivery to be marked delivered", async () => {
      const page = await stack.master.alerts.deliveries.query({ projectId: t.projectId });
      const d = page.items[0];
      return d?.status === "delivered" ? d : undefined;
    });
    expect(delivery).toMatchObject({
      threshold: 50,
      attempts: 3,
      responseStatus: 204,
      lastError: null,
    });
    expect(delivery.deliveredAt).toBeInstanceOf(Date);
  });

  it("records a threshold once when two workers check the same key at the same time", async () => {
    const t = await stack.budgetTenant("0.00016");
    for (let i = 0; i < 6; i++) await chat(t.secret);
    await ledgerRows(t.key.id, 6);
    // Let the stack's worker finish the batch (no webhook yet, so it records nothing).
    await sleep(300);
    const receiver = await startReceiver();
    await stack.master.alerts.set.mutate({ projectId: t.projectId, url: receiver.url });

    const enqueued: string[] = [];
    const deps = {
      db: stack.services.db,
      enqueue: async (id: string) => {
        enqueued.push(id);
      },
      log: pino({ level: "silent" }),
      now: () => new Date(),
    };
    const events = [usageEvent("alerts", 0, { keyId: t.key.id, projectId: t.projectId })];
    const created = await Promise.all([
      checkAlertThresholds(deps, events),
      checkAlertThresholds(deps, events),
      checkAlertThresholds(deps, events),
    ]);
    expect(created.reduce((a, b) => a + b, 0)).toBe(1);
    const rows = await stack.services.sql<{ id: string; threshold: number }[]>`
      select id, threshold from alert_deliveries where key_id = ${t.key.id}`;
    expect(rows.map((r) => r.threshold)).toEqual([50]);
    // Re-enqueued while pending is fine: the job id is the delivery id, so one job.
    expect(new Set(enqueued)).toEqual(new Set([rows[0]!.id]));
    // A later check finds it recorded (not a conflict): nothing new, the pending one enqueued again.
    enqueued.length = 0;
    expect(await checkAlertThresholds(deps, events)).toBe(0);
    expect(enqueued).toEqual([rows[0]!.id]);
  });
});

describe("alert delivery rules", () => {
  const fakeJob = (deliveryId: string, attemptsMade: number) =>
    ({
      name: jobNames.alertDelivery,
      data: { deliveryId },
      attemptsMade,
      opts: { attempts: 8 },
    }) as unknown as Job<unknown, unknown>;

  async function pendingDelivery(url: string) {
    const t = await stack.tenant({ spendLimitUsd: "1" });
    const set = await stack.master.alerts.set.mutate({ projectId: t.projectId, url });
    const id = await recordThresholdCrossed(stack.services.db, {
      projectId: t.projectId,
      keyId: t.key.id,
      threshold: 50,
      windowStart: new Date(Date.UTC(2025, 0, 1)),
      payload: (deliveryId) => ({
        id: deliveryId,
        type: "budget.threshold",
        projectId: t.projectId,
        keyId: t.key.id,
        threshold: 50,
        spentUsd: "0.5",
        limitUsd: "1",
        windowStart: "2025-01-01T00:00:00.000Z",
        windowEnd: null,
      }),
    });
    return { id: id!, signingSecret: set.signingSecret };
  }

  const processor = (allowPrivate: boolean) =>
    createAlertDeliveryProcessor({
      db: stack.services.db,
      box: createCryptoBox(testSecret),
      allowPrivate,
      timeoutMs: 5_000,
      log: pino({ level: "silent" }),
      now: () => new Date(),
    });

  it("refuses loopback and private addresses at send time unless allowed; the last attempt marks it failed", async () => {
    const receiver = await startReceiver();
    const port = new URL(receiver.url).port;
    const { id: literal, signingSecret } = await pendingDelivery(receiver.url);
    receiver.setSecret(signingSecret);
    // A name goes through the resolver, and is refused by what it resolves to.
    const { id: named } = await pendingDelivery(`http://localhost:${port}/hooks/osm`);

    await expect(processor(false)(fakeJob(literal, 0))).rejects.toThrow(/private address/);
    expect(await findDeliveryWithSettings(stack.services.db, literal)).toMatchObject({
      status: "pending",
      attempts: 1,
    });
    await expect(processor(false)(fakeJob(named, 7))).rejects.toThrow(/private address/);
    const [row] = await stack.services.sql<
      { status: string; attempts: number; last_error: string; response_status: number | null }[]
    >`select status, attempts, last_error, response_status from alert_deliveries where id = ${named}`;
    expect(row).toMatchObject({ status: "failed", attempts: 1, response_status: null });
    expect(row!.last_error).toMatch(/OSM_ALLOW_PRIVATE_UPSTREAMS/);
    expect(receiver.received).toHaveLength(0);

    // Allowed, the pending one goes out; a settled one is never sent again.
    expect(await processor(true)(fakeJob(literal, 1))).toEqual({
      status: "delivered",
      responseStatus: 204,
    });
    expect(await findDeliveryWithSettings(stack.services.db, literal)).toMatchObject({
      status: "delivered",
      attempts: 2,
    });
    expect(await processor(true)(fakeJob(literal, 2))).toEqual({
      status: "skipped",
      reason: "delivered",
    });
    expect(await processor(true)(fakeJob(named, 1))).toEqual({
      status: "skipped",
      reason: "failed",
    });
    expect(receiver.received.map((r) => r.verified)).toEqual([true]);
  });

  it("signs with a timestamp that receivers can hold to a tolerance", () => {
    const body = '{"a":1}';
    const now = Date.now();
    const fresh = signWebhook("whsec_x", Math.floor(now / 1000), body);
    const stale = signWebhook("whsec_x", Math.floor(now / 1000) - 301, body);
    expect(verifySignature("whsec_x", fresh, body, now)).toBe(true);
    expect(verifySignature("whsec_x", fresh, `${body} `, now)).toBe(false);
    expect(verifySignature("whsec_x", stale, body, now)).toBe(false);
  });

  it("refuses to start with an OSM_SECRET the database was not set up with", async () => {
    await expect(
      startWorker(
        testWorkerConfig(stack.services, {
          concurrency: 1,
          stalledIntervalMs: 1_000,
          lockDurationMs: 2_000,
          secret: "another-secret-of-at-least-32-characters",
        }),
      ),
    ).rejects.toThrow(/^osm worker: invalid OSM_SECRET: /);
  });
});
