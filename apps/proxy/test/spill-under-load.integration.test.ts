import { createRedis } from "@osm/redis/connect";
import { chatRequestId, type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { afterAll, beforeAll, expect, it } from "vitest";

// A key without limits records usage through the proxy's emitter, which spills to disk when a
// Redis append times out and replays later. Redis stalling again and again under concurrent
// load must still land every answered request in the ledger exactly once.

let stack: GatewayStack;
let control: ReturnType<typeof createRedis>;
beforeAll(async () => {
  stack = await startGatewayStack();
  control = createRedis(stack.services.redis, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  control?.disconnect();
  await stack?.close();
});

it("lands every answered request once while Redis writes stall repeatedly", {
  timeout: 120_000,
}, async () => {
  const key = await stack.tenant();
  const client = stack.openai(key.secret);
  const ids: string[] = [];
  let next = 0;
  const total = 600;
  let stalls = 0;
  let loading = true;
  // Writes pause for 300 ms every 600 ms: appends time out, events spill, replays run and fail.
  const staller = (async () => {
    while (loading) {
      await control.call("CLIENT", "PAUSE", "300", "WRITE");
      stalls++;
      await new Promise((r) => setTimeout(r, 600));
    }
  })();
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < total) {
        const stream = next++ % 2 === 0;
        try {
          ids.push(await chatRequestId(client, stream));
        } catch {
          // A refused request (none expected for a key without limits) has nothing to land.
        }
      }
    }),
  );
  loading = false;
  await staller;
  const spilled = stack.proxies[0]!.deps.usage.spilled;
  const sql = stack.services.sql;
  const landed = async () =>
    (
      await sql<{ n: number; distinct: number }[]>`
        select count(*)::int as n, count(distinct request_id)::int as distinct
        from usage_ledger where request_id in ${sql(ids)}`
    )[0]!;
  // Replays run every 5 s: give them a few rounds.
  const deadline = Date.now() + 60_000;
  let rows = await landed();
  while (rows.n < ids.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    rows = await landed();
  }
  expect(stalls).toBeGreaterThan(1);
  expect(ids.length).toBeGreaterThan(total * 0.9);
  // The spill path really ran, and lost nothing.
  expect(spilled).toBeGreaterThan(0);
  expect(rows).toEqual({ n: ids.length, distinct: ids.length });
});
