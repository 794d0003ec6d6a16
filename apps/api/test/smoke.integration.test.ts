import { type ApiClient, apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, expect, it } from "vitest";

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let master: ApiClient;

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  master = apiClient(api.url, { bearer: testMasterKey });
});
afterAll(async () => {
  await api.close();
  await services.close();
});

it("creates a project, provider, model and key end to end", async () => {
  const project = await master.projects.create.mutate({ name: "Smoke" });
  await master.providers.create.mutate({
    projectId: project.id,
    id: "openai",
    kind: "openai",
    baseUrl: "http://127.0.0.1:9/v1",
    apiKey: "sk-test",
  });
  const imported = await master.models.importDefaults.mutate({ projectId: project.id });
  expect(imported.imported).toBeGreaterThan(5);
  const { key, secret } = await master.keys.create.mutate({
    projectId: project.id,
    label: "first",
    spendLimitUsd: "12.50",
    budgetPeriod: "monthly",
  });
  expect(secret).toMatch(/^osm_/);
  expect(key).toMatchObject({
    status: "active",
    spendLimitUsd: "12.5",
    spendUsd: "0",
    budgetPeriod: "monthly",
  });
  const listed = await master.keys.list.query({ projectId: project.id });
  expect(listed.items.map((k) => k.id)).toEqual([key.id]);
  const audit = await master.audit.list.query({ projectId: project.id });
  expect(audit.items.map((a) => a.action)).toContain("key.create");
  const me = await apiClient(api.url).auth.me.query();
  expect(me).toEqual({ actor: null, needsSetup: true });
});
