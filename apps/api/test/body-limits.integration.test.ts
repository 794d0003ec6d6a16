import { request } from "node:http";
import { apiClient, startTestApi } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maxBatchSize } from "../src/server.ts";
import { rawError, rawRequest } from "./helpers.ts";

// The management API reads at most OSM_API_MAX_BODY_BYTES of a request and runs at most
// maxBatchSize procedures per batch: an unauthenticated client cannot make it hold large
// bodies in memory.

let limit: number;
let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  limit = api.services.config.maxBodyBytes;
});

afterAll(async () => {
  await api?.close();
  await services?.close();
});

const chunk = Buffer.alloc(1024 * 1024, "a");

type Upload = { status: number; body: string } | { status: null; error: string };

/**
 * POSTs `total` bytes to auth.login, generated a chunk at a time (the client holds one chunk),
 * with a declared Content-Length or chunked; stops writing as soon as the answer arrives.
 */
function upload(total: number, declared: boolean): Promise<Upload> {
  return new Promise((resolve) => {
    let answered = false;
    const req = request(
      new URL("/trpc/auth.login?batch=1", api.url),
      {
        method: "POST",
        agent: false,
        headers: {
          "content-type": "application/json",
          ...(declared ? { "content-length": String(total) } : { "transfer-encoding": "chunked" }),
        },
      },
      (res) => {
        answered = true;
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("error", (e) => resolve({ status: null, error: e.message }));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }),
        );
      },
    );
    req.on("error", (e) => {
      if (!answered) resolve({ status: null, error: e.message });
    });
    let sent = 0;
    const pump = () => {
      while (!answered && sent < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
        sent += piece.length;
        if (!req.write(piece)) return void req.once("drain", pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe("request bodies over the limit", () => {
  it("a declared Content-Length over the limit is answered 413 without reading the body", async () => {
    const res = await upload(150 * 1024 * 1024, true);
    expect(res.status).toBe(413);
    expect(JSON.parse((res as { body: string }).body)).toMatchObject({
      error: { data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413 } },
    });
  });

  it("a chunked body is counted as it arrives and answered 413 past the limit", async () => {
    const res = await upload(150 * 1024 * 1024, false);
    expect(res.status).toBe(413);
  });

  it("a body just under the limit is read and judged as usual", async () => {
    const body = JSON.stringify({
      0: { json: { email: "a@example.com", password: "x".repeat(limit - 200) } },
    });
    expect(body.length).toBeLessThan(limit);
    const res = await rawRequest(api.url, {
      path: "/trpc/auth.login?batch=1",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(res.status).toBe(400);
    const [first] = res.json as [{ error: { json: { data: { code: string } } } }];
    expect(first.error.json.data.code).toBe("BAD_REQUEST");
  });

  it("the API's memory stays flat under 20 parallel 150 MB uploads", async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => upload(150 * 1024 * 1024, i % 2 === 0)),
    );
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    const growthMb = Math.round((peak - before) / 1024 / 1024);
    console.info(
      `RSS of the test process (API in-process) under 20 parallel 150 MB uploads: ` +
        `${Math.round(before / 1024 / 1024)} MB before, peak ${Math.round(peak / 1024 / 1024)} MB (+${growthMb} MB)`,
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 413));
    // Generous: unbounded buffering of these uploads grows RSS by gigabytes.
    expect(growthMb).toBeLessThan(300);
    // The API still answers afterwards.
    expect(await apiClient(api.url).auth.me.query()).toMatchObject({ actor: null });
  });
});

describe("batches", () => {
  const batch = (n: number) =>
    rawRequest(api.url, {
      method: "GET",
      path: `/trpc/${Array.from({ length: n }, () => "auth.me").join(",")}?batch=1&input=${encodeURIComponent("{}")}`,
    });

  it(`runs a batch of ${maxBatchSize} procedures`, async () => {
    const res = await batch(maxBatchSize);
    expect(res.status).toBe(200);
    expect(res.json).toHaveLength(maxBatchSize);
  });

  it(`refuses a batch of ${maxBatchSize + 1} procedures as bad input, running none`, async () => {
    const res = await batch(maxBatchSize + 1);
    expect(res.status).toBe(400);
    const body = res.json as { error?: unknown } | { error: { json: unknown } }[];
    const first = Array.isArray(body) ? body[0] : body;
    expect(rawError({ ...res, json: first })).toMatchObject({ code: "BAD_REQUEST" });
  });
});
