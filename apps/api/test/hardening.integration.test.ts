import { type ApiClient, apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  cookieClient,
  createBareUser,
  createUser,
  directSession,
  password,
  rawMutation,
  rawRequest,
} from "./helpers.ts";

// What the management API tells clients: no credentials from the audit log, no SQL or stack
// traces from a failure, and a session cookie that other origins cannot plant.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let master: ApiClient;
let projectId: string;

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  master = apiClient(api.url, { bearer: testMasterKey });
  projectId = (await master.projects.create.mutate({ name: "Hardening" })).id;
});

afterAll(async () => {
  await api?.close();
  await services?.close();
});

describe("the audit log", () => {
  it("shows webhook URLs without their path, to viewers and everyone else", async () => {
    const hook = "http://127.0.0.1:9/services/T0001/B0001/hook-credential-0123";
    await master.alerts.set.mutate({ projectId, url: hook });
    // A row from before redaction at write time.
    await services.sql`
      insert into audit_log (id, project_id, actor_type, action, target_type, target_id, data)
      values ('audit_0000old', ${projectId}, 'master', 'alerts.set', 'alerts', ${projectId},
        ${JSON.stringify({ url: hook })}::jsonb)`;
    const viewer = await createBareUser(services, "viewer@example.com");
    await addMember(services, projectId, viewer.id, "viewer");
    const asViewer = cookieClient(api.url, await directSession(services, viewer.id));
    for (const client of [asViewer, master]) {
      const rows = (await client.audit.list.query({ projectId })).items.filter(
        (r) => r.action === "alerts.set",
      );
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row.data).toEqual({ url: "http://127.0.0.1:9/…" });
      expect(JSON.stringify(rows)).not.toContain("hook-credential");
    }
  });
});

describe("internal errors", () => {
  it("carry a request id and no SQL, parameters or stack trace", async () => {
    await services.sql`alter table api_keys rename to api_keys_away`;
    try {
      const input = encodeURIComponent(JSON.stringify(superjson.serialize({ projectId })));
      const res = await rawRequest(api.url, {
        method: "GET",
        path: `/trpc/keys.list?input=${input}`,
        headers: { authorization: `Bearer ${testMasterKey}` },
      });
      expect(res.status).toBe(500);
      const requestId = res.headers["x-request-id"];
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      const error = (res.json as { error: { json: { message: string; data: object } } }).error.json;
      expect(error.message).toBe(`Internal error (request id ${requestId}).`);
      expect(error.data).not.toHaveProperty("stack");
      for (const leak of ["select", "api_keys", "Failed query", projectId, "at "]) {
        expect(res.body).not.toContain(leak);
      }
    } finally {
      await services.sql`alter table api_keys_away rename to api_keys`;
    }
  });
});

describe("the session cookie", () => {
  it("is __Host- prefixed and Secure when the public URL is https", async () => {
    await createUser(services, "cookie@example.com");
    const https = await startTestApi(services, { publicUrl: "https://osm.example.com" });
    try {
      const res = await rawMutation(https.url, "auth.login", {
        email: "cookie@example.com",
        password,
      });
      expect(res.status).toBe(200);
      const [cookie] = res.headers["set-cookie"] as string[];
      expect(cookie).toMatch(
        /^__Host-osm_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/,
      );
      const token = cookie!.slice("__Host-osm_session=".length).split(";")[0]!;
      const me = (cookies: Map<string, string>) =>
        apiClient(https.url, { cookies }).auth.me.query();
      expect((await me(new Map([["__Host-osm_session", token]]))).actor).toMatchObject({
        email: "cookie@example.com",
      });
      // The unprefixed name, which a plain-http page or a sibling domain could set, is ignored.
      expect((await me(new Map([["osm_session", token]]))).actor).toBeNull();
    } finally {
      await https.close();
    }
  });

  it("keeps its plain name over http, where browsers other than Chromium drop Secure cookies", async () => {
    const res = await rawMutation(api.url, "auth.login", { email: "cookie@example.com", password });
    const [cookie] = res.headers["set-cookie"] as string[];
    expect(cookie).toMatch(/^osm_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  });
});
