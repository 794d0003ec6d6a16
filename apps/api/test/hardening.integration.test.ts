import { apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import superjson from "superjson";
import { describe, expect, it } from "vitest";
import {
  addMember,
  cookieClient,
  createBareUser,
  createUser,
  directSession,
  password,
  rawMutation,
  rawRequest,
  useTestApi,
} from "./helpers.ts";

// What the management API tells clients: no credentials from the audit log, no SQL or stack
// traces from a failure, and a session cookie that other origins cannot plant.

const t = useTestApi({ project: "Hardening" });

describe("the audit log", () => {
  it("shows webhook URLs without their path, to viewers and everyone else", async () => {
    const hook = "http://127.0.0.1:9/services/T0001/B0001/hook-credential-0123";
    await t.master.alerts.set.mutate({ projectId: t.projectId, url: hook });
    // A row from before redaction at write time.
    await t.services.sql`
      insert into audit_log (id, project_id, actor_type, action, target_type, target_id, data)
      values ('audit_0000old', ${t.projectId}, 'master', 'alerts.set', 'alerts', ${t.projectId},
        ${JSON.stringify({ url: hook })}::jsonb)`;
    const viewer = await createBareUser(t.services, "viewer@example.com");
    await addMember(t.services, t.projectId, viewer.id, "viewer");
    const asViewer = cookieClient(t.api.url, await directSession(t.services, viewer.id));
    for (const client of [asViewer, t.master]) {
      const rows = (await client.audit.list.query({ projectId: t.projectId })).items.filter(
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
    await t.services.sql`alter table api_keys rename to api_keys_away`;
    try {
      const input = encodeURIComponent(
        JSON.stringify(superjson.serialize({ projectId: t.projectId })),
      );
      const res = await rawRequest(t.api.url, {
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
      for (const leak of ["select", "api_keys", "Failed query", t.projectId, "at "]) {
        expect(res.body).not.toContain(leak);
      }
    } finally {
      await t.services.sql`alter table api_keys_away rename to api_keys`;
    }
  });
});

describe("the session cookie", () => {
  it("is __Host- prefixed and Secure when the public URL is https", async () => {
    await createUser(t.services, "cookie@example.com");
    const https = await startTestApi(t.services, { publicUrl: "https://osm.example.com" });
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
    const res = await rawMutation(t.api.url, "auth.login", {
      email: "cookie@example.com",
      password,
    });
    const [cookie] = res.headers["set-cookie"] as string[];
    expect(cookie).toMatch(/^osm_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  });
});
