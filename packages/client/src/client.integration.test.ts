import { startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices } from "@osm/testing/context";
import { expect, it } from "vitest";
import { createOsmClient } from "./index.ts";

it("drives the API with a management token, batched and typed", async () => {
  const services = await createTestServices();
  const api = await startTestApi(services);
  try {
    const master = createOsmClient({ url: api.url, token: testMasterKey });
    const project = await master.projects.create.mutate({ name: "client" });
    const { secret } = await master.tokens.create.mutate({
      projectId: project.id,
      label: "ci",
      role: "member",
    });
    const client = createOsmClient({ url: api.url, token: secret });
    const [created, listed] = await Promise.all([
      client.keys.create.mutate({
        projectId: project.id,
        label: "from-client",
        spendLimitUsd: "5",
      }),
      client.projects.list.query(),
    ]);
    expect(created.key.spendLimitUsd).toBe("5");
    expect(listed.items.map((p) => p.id)).toEqual([project.id]);
    await expect(
      client.providers.create.mutate({
        projectId: project.id,
        id: "x",
        kind: "openai",
        baseUrl: "http://127.0.0.1:1",
        apiKey: "k",
      }),
    ).rejects.toMatchObject({
      data: { code: "FORBIDDEN" },
    });
  } finally {
    await api.close();
    await services.close();
  }
});
