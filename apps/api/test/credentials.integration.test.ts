import { type ApiClient, apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, callError, cookieClient, createBareUser, directSession } from "./helpers.ts";

// Provider credentials leave a project only through the proxy, to the provider's own origin:
// an admin cannot point a stored key at a host of their choosing, and a copy of the catalog
// into another project is on the source project's record.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let master: ApiClient;
let projectId: string;

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  master = apiClient(api.url, { bearer: testMasterKey });
  projectId = (await master.projects.create.mutate({ name: "Credentials" })).id;
});

afterAll(async () => {
  await api?.close();
  await services?.close();
});

const auditOf = async (id: string) => (await master.audit.list.query({ projectId: id })).items;

describe("providers.update", () => {
  it("moving baseUrl to another origin needs the apiKey again, and changes nothing without it", async () => {
    await master.providers.create.mutate({
      projectId,
      id: "moving",
      kind: "openai",
      baseUrl: "http://127.0.0.1:9/v1",
      apiKey: "sk-original",
    });
    const before = await auditOf(projectId);
    for (const baseUrl of [
      "http://127.0.0.2:9/v1",
      "http://127.0.0.1:10/v1",
      "https://127.0.0.1:9/v1",
    ]) {
      const err = await callError(
        master.providers.update.mutate({ projectId, id: "moving", baseUrl }),
      );
      expect(err).toMatchObject({ code: "BAD_REQUEST" });
      expect(err.fields?.map((f) => f.path)).toEqual(["apiKey"]);
    }
    const [provider] = (await master.providers.list.query({ projectId })).items;
    expect(provider).toMatchObject({ baseUrl: "http://127.0.0.1:9/v1", hasApiKey: true });
    expect(await auditOf(projectId)).toEqual(before);

    // Another path on the same origin keeps the key; a move with the key given again works.
    const samePlace = await master.providers.update.mutate({
      projectId,
      id: "moving",
      baseUrl: "http://127.0.0.1:9/openai/v1",
    });
    expect(samePlace.baseUrl).toBe("http://127.0.0.1:9/openai/v1");
    const moved = await master.providers.update.mutate({
      projectId,
      id: "moving",
      baseUrl: "http://127.0.0.2:9/v1",
      apiKey: "sk-for-the-new-host",
    });
    expect(moved).toMatchObject({ baseUrl: "http://127.0.0.2:9/v1", hasApiKey: true });
  });
});

describe("projects.create {copyCatalogFrom}", () => {
  it("records the copy in the source project: who took its catalog, and to where", async () => {
    const source = (await master.projects.create.mutate({ name: "Source" })).id;
    await master.providers.create.mutate({
      projectId: source,
      id: "shared",
      kind: "openai",
      baseUrl: "http://127.0.0.1:9/v1",
      apiKey: "sk-source",
    });
    const admin = await createBareUser(services, "copier@example.com");
    await addMember(services, source, admin.id, "admin");
    const client = cookieClient(api.url, await directSession(services, admin.id));
    const copy = await client.projects.create.mutate({ name: "Copy", copyCatalogFrom: source });
    const [latest] = await auditOf(source);
    expect(latest).toMatchObject({
      projectId: source,
      actorType: "user",
      actorId: admin.id,
      action: "project.catalog_copied",
      targetType: "project",
      targetId: copy.id,
    });
  });
});
