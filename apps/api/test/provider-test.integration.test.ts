import { createServer } from "node:net";
import { type FakeProvider, startFakeProvider } from "@osm/fake-provider";
import { type ApiClient, apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callError } from "./helpers.ts";

// providers.test: lists the provider's models with the stored key, under the connect-time
// address rule; the answer carries a status and a message, never the key or the body.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let strictApi: Awaited<ReturnType<typeof startTestApi>>;
let fake: FakeProvider;
let master: ApiClient;
let strict: ApiClient;
let projectId: string;

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  // A second API on the same database that refuses private upstreams: providers registered
  // while they were allowed (or whose DNS moved since) must be refused when tested.
  strictApi = await startTestApi(services, { allowPrivateUpstreams: false });
  fake = await startFakeProvider();
  master = apiClient(api.url, { bearer: testMasterKey });
  strict = apiClient(strictApi.url, { bearer: testMasterKey });
  projectId = (await master.projects.create.mutate({ name: "Provider test" })).id;
});

afterAll(async () => {
  await fake?.close();
  await strictApi?.close();
  await api?.close();
  await services?.close();
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe("providers.test", () => {
  it("connects to an OpenAI and an Anthropic provider with the stored key", async () => {
    await master.providers.create.mutate({
      projectId,
      id: "oa",
      kind: "openai",
      baseUrl: fake.openaiBaseUrl,
      apiKey: "sk-openai-stored",
    });
    await master.providers.create.mutate({
      projectId,
      id: "an",
      kind: "anthropic",
      baseUrl: fake.anthropicBaseUrl,
      apiKey: "sk-ant-stored",
    });
    const oa = await master.providers.test.mutate({ projectId, id: "oa" });
    expect(oa).toMatchObject({ ok: true, status: 200 });
    expect(oa.message).toMatch(/^Connected/);
    expect(JSON.stringify(oa)).not.toContain("sk-openai-stored");
    const an = await master.providers.test.mutate({ projectId, id: "an" });
    expect(an).toMatchObject({ ok: true, status: 200 });

    const seen = fake.requests.filter((r) => r.path === "/v1/models");
    expect(seen.map((r) => r.headers.authorization ?? r.headers["x-api-key"])).toEqual([
      "Bearer sk-openai-stored",
      "sk-ant-stored",
    ]);
    expect(seen[1]!.headers["anthropic-version"]).toBeDefined();
  });

  it("reports a wrong base URL and an unreachable host without throwing", async () => {
    await master.providers.create.mutate({
      projectId,
      id: "no-v1",
      kind: "openai",
      baseUrl: fake.url,
      apiKey: "sk-x",
    });
    expect(await master.providers.test.mutate({ projectId, id: "no-v1" })).toMatchObject({
      ok: false,
      status: 404,
      message: expect.stringContaining("check the base URL"),
    });
    await master.providers.create.mutate({
      projectId,
      id: "down",
      kind: "openai",
      baseUrl: `http://127.0.0.1:${await closedPort()}/v1`,
      apiKey: "sk-x",
    });
    expect(await master.providers.test.mutate({ projectId, id: "down" })).toMatchObject({
      ok: false,
      status: null,
      message: "Connection refused.",
    });
  });

  it("refuses a private address at connect time, for a literal and for a name", async () => {
    await master.providers.create.mutate({
      projectId,
      id: "by-name",
      kind: "openai",
      baseUrl: fake.openaiBaseUrl.replace("127.0.0.1", "localhost"),
      apiKey: "sk-x",
    });
    const before = fake.requests.length;
    const literal = await strict.providers.test.mutate({ projectId, id: "oa" });
    expect(literal).toMatchObject({ ok: false, status: null });
    expect(literal.message).toMatch(/^Refused: 127\.0\.0\.1 is a loopback or private address/);
    const named = await strict.providers.test.mutate({ projectId, id: "by-name" });
    expect(named).toMatchObject({ ok: false, status: null });
    expect(named.message).toMatch(/^Refused: upstream host localhost resolves to a loopback/);
    expect(fake.requests.length).toBe(before);
  });

  it("is for admins, names unknown providers and refuses bad input", async () => {
    const cookies = new Map<string, string>();
    const { inviteUrl } = await master.members.invite.mutate({
      projectId,
      email: "viewer@example.com",
      role: "viewer",
    });
    const viewer = apiClient(api.url, { cookies });
    await viewer.auth.acceptInvite.mutate({
      token: new URL(inviteUrl).hash.slice("#token=".length),
      password: "correct horse battery staple",
    });
    expect((await callError(viewer.providers.test.mutate({ projectId, id: "oa" }))).code).toBe(
      "FORBIDDEN",
    );
    expect((await callError(master.providers.test.mutate({ projectId, id: "nope" }))).code).toBe(
      "NOT_FOUND",
    );
    const bad = await callError(master.providers.test.mutate({ projectId, id: "Not A Slug" }));
    expect(bad).toMatchObject({ code: "BAD_REQUEST", fields: [{ path: "id" }] });
  });
});
