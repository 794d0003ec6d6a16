import { apiClient } from "@osm/testing/api";
import { expect, it } from "vitest";
import { useTestApi } from "./helpers.ts";

const t = useTestApi();

it("creates a project, provider, model and key end to end", async () => {
  const project = await t.master.projects.create.mutate({ name: "Smoke" });
  await t.master.providers.create.mutate({
    projectId: project.id,
    id: "openai",
    kind: "openai",
    baseUrl: "http://127.0.0.1:9/v1",
    apiKey: "sk-test",
  });
  const imported = await t.master.models.importDefaults.mutate({ projectId: project.id });
  expect(imported.imported).toBeGreaterThan(5);
  const { key, secret } = await t.master.keys.create.mutate({
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
  const listed = await t.master.keys.list.query({ projectId: project.id });
  expect(listed.items.map((k) => k.id)).toEqual([key.id]);
  const audit = await t.master.audit.list.query({ projectId: project.id });
  expect(audit.items.map((a) => a.action)).toContain("key.create");
  const me = await apiClient(t.api.url).auth.me.query();
  expect(me).toEqual({ actor: null, needsSetup: true });
});
