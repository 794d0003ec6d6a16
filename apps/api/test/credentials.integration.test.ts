import { describe, expect, it } from "vitest";
import {
  addMember,
  callError,
  cookieClient,
  createBareUser,
  directSession,
  useTestApi,
} from "./helpers.ts";

// Provider credentials leave a project only through the proxy, to the provider's own origin:
// an admin cannot point a stored key at a host of their choosing, and a copy of the catalog
// into another project is on the source project's record.

const t = useTestApi({ project: "Credentials" });

const auditOf = async (id: string) => (await t.master.audit.list.query({ projectId: id })).items;

describe("providers.update", () => {
  it("moving baseUrl to another origin needs the apiKey again, and changes nothing without it", async () => {
    await t.master.providers.create.mutate({
      projectId: t.projectId,
      id: "moving",
      kind: "openai",
      baseUrl: "http://127.0.0.1:9/v1",
      apiKey: "sk-original",
    });
    const before = await auditOf(t.projectId);
    for (const baseUrl of [
      "http://127.0.0.2:9/v1",
      "http://127.0.0.1:10/v1",
      "https://127.0.0.1:9/v1",
    ]) {
      const err = await callError(
        t.master.providers.update.mutate({ projectId: t.projectId, id: "moving", baseUrl }),
      );
      expect(err).toMatchObject({ code: "BAD_REQUEST" });
      expect(err.fields?.map((f) => f.path)).toEqual(["apiKey"]);
    }
    const [provider] = (await t.master.providers.list.query({ projectId: t.projectId })).items;
    expect(provider).toMatchObject({ baseUrl: "http://127.0.0.1:9/v1", hasApiKey: true });
    expect(await auditOf(t.projectId)).toEqual(before);

    // Another path on the same origin keeps the key; a move with the key given again works.
    const samePlace = await t.master.providers.update.mutate({
      projectId: t.projectId,
      id: "moving",
      baseUrl: "http://127.0.0.1:9/openai/v1",
    });
    expect(samePlace.baseUrl).toBe("http://127.0.0.1:9/openai/v1");
    const moved = await t.master.providers.update.mutate({
      projectId: t.projectId,
      id: "moving",
      baseUrl: "http://127.0.0.2:9/v1",
      apiKey: "sk-for-the-new-host",
    });
    expect(moved).toMatchObject({ baseUrl: "http://127.0.0.2:9/v1", hasApiKey: true });
  });
});

describe("projects.create {copyCatalogFrom}", () => {
  it("records the copy in the source project: who took its catalog, and to where", async () => {
    const source = (await t.master.projects.create.mutate({ name: "Source" })).id;
    await t.master.providers.create.mutate({
      projectId: source,
      id: "shared",
      kind: "openai",
      baseUrl: "http://127.0.0.1:9/v1",
      apiKey: "sk-source",
    });
    const admin = await createBareUser(t.services, "copier@example.com");
    await addMember(t.services, source, admin.id, "admin");
    const client = cookieClient(t.api.url, await directSession(t.services, admin.id));
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
