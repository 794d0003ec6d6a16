import { apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawRequest } from "./helpers.ts";

// Mutations that a page on another site could make a browser send are refused before any
// procedure runs, and no response ever grants another origin CORS access.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let production: Awaited<ReturnType<typeof startTestApi>>;
let projectId: string;

const devOrigin = "http://localhost:5173";

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  production = await startTestApi(services, { development: false, dashboardOrigins: [] });
  const master = apiClient(api.url, { bearer: testMasterKey });
  projectId = (await master.projects.create.mutate({ name: "Cross-site" })).id;
});

afterAll(async () => {
  await api?.close();
  await production?.close();
  await services?.close();
});

async function keyCount(): Promise<number> {
  const [row] = await services.sql<{ n: number }[]>`select count(*)::int as n from api_keys`;
  return row!.n;
}

const body = () => JSON.stringify({ json: { projectId, label: "cross-site" } });

/** POST /trpc/keys.create with the master key and a valid superjson body. */
function createKey(base: string, headers: Record<string, string>, payload = body()) {
  return fetch(`${base}/trpc/keys.create`, {
    method: "POST",
    headers: { authorization: `Bearer ${testMasterKey}`, ...headers },
    body: payload,
  });
}

const json = { "content-type": "application/json" };

function expectNoCors(res: Response) {
  expect(res.headers.get("access-control-allow-origin")).toBeNull();
  expect(res.headers.get("access-control-allow-credentials")).toBeNull();
}

describe("refused: 403 and no key written", () => {
  const cases: [string, Record<string, string>][] = [
    ["a foreign Origin", { ...json, origin: "https://evil.example" }],
    ["Sec-Fetch-Site: cross-site", { ...json, "sec-fetch-site": "cross-site" }],
    [
      "Sec-Fetch-Site: cross-site, even from the dashboard origin",
      { ...json, origin: devOrigin, "sec-fetch-site": "cross-site" },
    ],
    ["a text/plain body", { "content-type": "text/plain" }],
    ["a text/plain body with a charset", { "content-type": "text/plain;charset=UTF-8" }],
    ["a form body", { "content-type": "application/x-www-form-urlencoded" }],
    ["a multipart form body", { "content-type": "multipart/form-data; boundary=x" }],
    ["a look-alike JSON type", { "content-type": "application/jsonp" }],
    ["Origin: null (sandboxed frames, file: pages)", { ...json, origin: "null" }],
    ["an origin that only starts like ours", { ...json, origin: "http://127.0.0.1.evil.example" }],
    ["the dev origin over https", { ...json, origin: "https://localhost:5173" }],
    ["the dev origin on another port", { ...json, origin: "http://localhost:5174" }],
  ];

  it.each(cases)("%s", async (_name, headers) => {
    const before = await keyCount();
    const res = await createKey(api.url, headers);
    expect(res.status).toBe(403);
    const payload = (await res.json()) as { error: { data: { code: string } } };
    expect(payload.error.data.code).toBe("FORBIDDEN");
    expectNoCors(res);
    expect(await keyCount()).toBe(before);
  });

  it("a body without any content type", async () => {
    const before = await keyCount();
    const res = await rawRequest(api.url, {
      path: "/trpc/keys.create",
      headers: { authorization: `Bearer ${testMasterKey}` },
      body: body(),
    });
    expect(res.status).toBe(403);
    expect(await keyCount()).toBe(before);
  });

  it("the same origin as ours but with another scheme", async () => {
    const before = await keyCount();
    const res = await createKey(api.url, { ...json, origin: api.url.replace("http:", "https:") });
    expect(res.status).toBe(403);
    expect(await keyCount()).toBe(before);
  });

  it("a mutation sent as GET (what an <img> or a link could do)", async () => {
    const before = await keyCount();
    const input = encodeURIComponent(JSON.stringify({ json: { projectId, label: "get" } }));
    const res = await fetch(`${api.url}/trpc/keys.create?input=${input}`, {
      headers: { authorization: `Bearer ${testMasterKey}`, origin: "https://evil.example" },
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expectNoCors(res);
    expect(await keyCount()).toBe(before);
  });

  it("the dev origin in a production configuration", async () => {
    const before = await keyCount();
    const res = await createKey(production.url, { ...json, origin: devOrigin });
    expect(res.status).toBe(403);
    expectNoCors(res);
    expect(await keyCount()).toBe(before);
  });
});

describe("accepted", () => {
  const cases: [string, () => Record<string, string>][] = [
    ["the API's own origin", () => ({ ...json, origin: api.url })],
    ["the dev origin in development", () => ({ ...json, origin: devOrigin })],
    ["no Origin at all (scripts, curl)", () => json],
    ["Sec-Fetch-Site: same-origin", () => ({ ...json, "sec-fetch-site": "same-origin" })],
    ["JSON with a charset", () => ({ "content-type": "application/json; charset=utf-8" })],
    ["JSON in upper case", () => ({ "content-type": "Application/JSON" })],
  ];

  it.each(cases)("%s", async (_name, headers) => {
    const before = await keyCount();
    const res = await createKey(api.url, headers());
    expect(res.status).toBe(200);
    const payload = (await res.json()) as { result: { data: { json: { secret: string } } } };
    expect(payload.result.data.json.secret).toMatch(/^osm_/);
    expectNoCors(res);
    expect(await keyCount()).toBe(before + 1);
  });

  it("the API's own origin in a production configuration", async () => {
    const before = await keyCount();
    const res = await createKey(production.url, { ...json, origin: production.url });
    expect(res.status).toBe(200);
    expectNoCors(res);
    expect(await keyCount()).toBe(before + 1);
  });
});

describe("CORS never reflects a foreign origin", () => {
  const evil = "https://evil.example";

  it("on a preflight", async () => {
    const res = await fetch(`${api.url}/trpc/keys.create`, {
      method: "OPTIONS",
      headers: {
        origin: evil,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, authorization",
      },
    });
    expectNoCors(res);
    expect(res.headers.get("access-control-allow-methods")).toBeNull();
    expect(res.headers.get("access-control-allow-headers")).toBeNull();
  });

  it("on a query (reads are not mutations, but their answers stay unreadable to other sites)", async () => {
    const input = encodeURIComponent(JSON.stringify({ json: { projectId } }));
    const res = await fetch(`${api.url}/trpc/keys.list?input=${input}`, {
      headers: { authorization: `Bearer ${testMasterKey}`, origin: evil },
    });
    expect(res.status).toBe(200);
    expectNoCors(res);
  });

  it("on the dashboard and health routes", async () => {
    for (const path of ["/", "/healthz", "/trpc"]) {
      const res = await fetch(`${api.url}${path}`, { headers: { origin: evil } });
      expectNoCors(res);
    }
  });
});
