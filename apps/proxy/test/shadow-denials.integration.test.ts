// A key whose policy is in shadow mode: requests its rules would refuse go ahead, and the
// would-be denial lands on the request's ledger row (chat and embeddings alike), where the
// management API's logs.list reads and filters it.
import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { waitFor } from "@osm/testing/wait";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: GatewayStack;
let projectId: string;
let secret: string;

beforeAll(async () => {
  stack = await startGatewayStack();
  ({ projectId, secret } = await stack.tenant({
    policy: { mode: "shadow", models: { allow: ["gpt-4o-mini"] } },
  }));
});
afterAll(() => stack.close());

type Log = Awaited<ReturnType<GatewayStack["master"]["logs"]["list"]["query"]>>["items"][number];

const logRow = (requestId: string, filter: { shadow?: boolean } = {}) =>
  waitFor(`the ledger row of ${requestId}`, async () => {
    const page = await stack.master.logs.list.query({ projectId, ...filter, limit: 100 });
    return page.items.find((item: Log) => item.requestId === requestId);
  });

const wouldDeny = {
  shadowCode: "model_not_allowed",
  shadowMessage: expect.stringContaining("gpt-4o"),
};

describe("shadow denials on the request's log row", () => {
  it("records a chat request its policy would refuse, which is served", async () => {
    const { data, response } = await stack
      .openai(secret)
      .chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBeTruthy();
    const row = await logRow(response.headers.get("x-request-id")!, { shadow: true });
    expect(row).toMatchObject({ outcome: "allowed", code: null, model: "gpt-4o", ...wouldDeny });
  });

  it("records an embeddings request its policy would refuse, which is served", async () => {
    const { data, response } = await stack
      .openai(secret)
      .embeddings.create({ model: "text-embedding-3-small", input: "hello" })
      .withResponse();
    expect(data.data).toHaveLength(1);
    const row = await logRow(response.headers.get("x-request-id")!, { shadow: true });
    expect(row).toMatchObject({
      outcome: "allowed",
      model: "text-embedding-3-small",
      shadowCode: "model_not_allowed",
      shadowMessage: expect.stringContaining("text-embedding-3-small"),
    });
  });

  it("leaves a request the policy allows unmarked, and the shadow filter tells them apart", async () => {
    const { response } = await stack
      .openai(secret)
      .chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "hi" }],
      })
      .withResponse();
    const requestId = response.headers.get("x-request-id")!;
    const row = await logRow(requestId, { shadow: false });
    expect(row).toMatchObject({ outcome: "allowed", shadowCode: null, shadowMessage: null });
    const shadowed = await stack.master.logs.list.query({ projectId, shadow: true, limit: 100 });
    expect(shadowed.items.length).toBeGreaterThanOrEqual(2);
    expect(shadowed.items.every((item: Log) => item.shadowCode !== null)).toBe(true);
    expect(shadowed.items.some((item: Log) => item.requestId === requestId)).toBe(false);
  });

  it("refuses a shadow filter that is not a boolean", async () => {
    const refused = await stack.master.logs.list
      // @ts-expect-error: the wrong type on purpose
      .query({ projectId, shadow: "yes" })
      .catch((err: unknown) => err);
    expect(refused).toMatchObject({ data: { code: "BAD_REQUEST" } });
  });
});
