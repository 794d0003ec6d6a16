import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { signWebhook } from "@osm/net/webhook";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callError, useTestApi } from "./helpers.ts";

// alerts.sendTest: one signed test event, sent now, with the receiver's answer returned.

const t = useTestApi({ project: "Alerts" });
type Received = { headers: IncomingMessage["headers"]; body: string };
const received: Received[] = [];
let answer = 204;
let receiver: Server;
let url = "";

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString("utf8");
    });
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/osm`;
});
afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

describe("alerts.sendTest", () => {
  it("refuses a project without a webhook, and sends nothing", async () => {
    const error = await callError(t.master.alerts.sendTest.mutate({ projectId: t.projectId }));
    expect(error).toMatchObject({
      code: "PRECONDITION_FAILED",
      message: "Set a webhook URL first.",
    });
    expect(received).toHaveLength(0);
  });

  it("sends one event signed with the project's secret and reports the answer", async () => {
    const { signingSecret } = await t.master.alerts.set.mutate({ projectId: t.projectId, url });
    const result = await t.master.alerts.sendTest.mutate({ projectId: t.projectId });
    expect(result).toMatchObject({ ok: true, status: 204 });
    expect(received).toHaveLength(1);
    const { headers, body } = received[0]!;
    expect(headers["osm-event"]).toBe("alert.test");
    const payload = JSON.parse(body) as Record<string, string>;
    expect(payload).toMatchObject({ type: "alert.test", projectId: t.projectId });
    expect(headers["osm-delivery-id"]).toBe(payload.id);
    const signature = String(headers["osm-signature"]);
    const timestamp = Number(/^t=(\d+),/.exec(signature)?.[1]);
    expect(signature).toBe(signWebhook(signingSecret, timestamp, body));
    // A test is not a delivery: the deliveries list stays as it was.
    expect((await t.master.alerts.deliveries.query({ projectId: t.projectId })).items).toEqual([]);
  });

  it("reports a receiver's refusal and an unreachable receiver without throwing", async () => {
    answer = 500;
    expect(await t.master.alerts.sendTest.mutate({ projectId: t.projectId })).toMatchObject({
      ok: false,
      status: 500,
      message: "The webhook answered HTTP 500: alerts would be retried.",
    });
    await t.master.alerts.set.mutate({ projectId: t.projectId, url: "http://127.0.0.1:9/hooks" });
    const unreachable = await t.master.alerts.sendTest.mutate({ projectId: t.projectId });
    expect(unreachable).toMatchObject({ ok: false, status: null });
    expect(unreachable.message).toMatch(/^webhook request failed: /);
  });
});
