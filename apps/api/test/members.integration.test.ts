import { type ApiClient, apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  callError,
  cookieClient,
  createBareUser,
  directSession,
  outcome,
  password,
  rawMutation,
  unique,
} from "./helpers.ts";

// Invitations can be listed and revoked; access a member handed out ends with their membership;
// a project never ends up without an owner, even under concurrent changes.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let master: ApiClient;

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  master = apiClient(api.url, { bearer: testMasterKey });
});

afterAll(async () => {
  await api?.close();
  await services?.close();
});

const tokenOf = (inviteUrl: string) => new URL(inviteUrl).hash.slice("#token=".length);
const newProject = async () => (await master.projects.create.mutate({ name: unique("p") })).id;

async function auditRows(projectId: string, action: string) {
  return (await master.audit.list.query({ projectId, limit: 100 })).items.filter(
    (a) => a.action === action,
  );
}

describe("members.invitations and members.revokeInvitation", () => {
  it("lists open invitations a page at a time, and a revoked link stops working", async () => {
    const projectId = await newProject();
    const sent = [];
    for (const who of ["a", "b", "c"]) {
      sent.push(
        await master.members.invite.mutate({
          projectId,
          email: `${who}@example.com`,
          role: "viewer",
        }),
      );
    }
    const first = await master.members.invitations.query({ projectId, limit: 2 });
    expect(first.items.map((i) => i.email)).toEqual(["c@example.com", "b@example.com"]);
    expect(first.nextCursor).not.toBeNull();
    const second = await master.members.invitations.query({
      projectId,
      limit: 2,
      cursor: first.nextCursor!,
    });
    expect(second).toMatchObject({ items: [{ email: "a@example.com" }], nextCursor: null });
    expect(JSON.stringify([first, second])).not.toContain(tokenOf(sent[0]!.inviteUrl));

    await master.members.revokeInvitation.mutate({ id: sent[0]!.id });
    const accept = await callError(
      apiClient(api.url).auth.acceptInvite.mutate({ token: tokenOf(sent[0]!.inviteUrl), password }),
    );
    expect(accept).toMatchObject({ code: "NOT_FOUND" });
    expect((await master.members.invitations.query({ projectId })).items).toHaveLength(2);
    expect(await auditRows(projectId, "member.revoke_invitation")).toMatchObject([
      { targetId: sent[0]!.id },
    ]);
    // Revoking twice, or an invitation that was accepted, finds nothing and records nothing.
    expect(
      await callError(master.members.revokeInvitation.mutate({ id: sent[0]!.id })),
    ).toMatchObject({ code: "NOT_FOUND" });
    await apiClient(api.url).auth.acceptInvite.mutate({
      token: tokenOf(sent[1]!.inviteUrl),
      password,
    });
    expect(
      await callError(master.members.revokeInvitation.mutate({ id: sent[1]!.id })),
    ).toMatchObject({ code: "NOT_FOUND" });
    expect(await auditRows(projectId, "member.revoke_invitation")).toHaveLength(1);
  });
});

describe("removing a member", () => {
  it("ends the invitations they sent and the tokens they made, down the chain, on the record", async () => {
    const projectId = await newProject();
    const leaver = await createBareUser(services, unique("leaver") + "@example.com");
    await addMember(services, projectId, leaver.id, "owner");
    const stays = await createBareUser(services, unique("stays") + "@example.com");
    await addMember(services, projectId, stays.id, "owner");
    const asLeaver = cookieClient(api.url, await directSession(services, leaver.id));
    const link = await asLeaver.members.invite.mutate({
      projectId,
      email: "friend@example.com",
      role: "admin",
    });
    const child = await asLeaver.tokens.create.mutate({ projectId, label: "ci", role: "admin" });
    const grandchild = await apiClient(api.url, { bearer: child.secret }).tokens.create.mutate({
      projectId,
      label: "made by ci",
      role: "viewer",
    });
    const unrelated = await master.tokens.create.mutate({ projectId, label: "ops", role: "admin" });

    await master.members.remove.mutate({ projectId, userId: leaver.id });

    for (const secret of [child.secret, grandchild.secret]) {
      const err = await callError(
        apiClient(api.url, { bearer: secret }).keys.list.query({ projectId }),
      );
      expect(err).toMatchObject({ code: "UNAUTHORIZED" });
    }
    expect(
      (await apiClient(api.url, { bearer: unrelated.secret }).keys.list.query({ projectId })).items,
    ).toEqual([]);
    expect(
      await callError(
        apiClient(api.url).auth.acceptInvite.mutate({ token: tokenOf(link.inviteUrl), password }),
      ),
    ).toMatchObject({ code: "NOT_FOUND" });
    const [removal] = await auditRows(projectId, "member.remove");
    expect(removal?.data).toEqual({
      invitationsRevoked: [link.id],
      tokensRevoked: expect.arrayContaining([child.token.id, grandchild.token.id]),
    });
    expect((removal!.data as { tokensRevoked: string[] }).tokensRevoked).toHaveLength(2);
  });
});

describe("tokens made by tokens", () => {
  it("live no longer than the token that made them", async () => {
    const projectId = await newProject();
    const parentEnd = new Date(Date.now() + 3600_000);
    const parent = await master.tokens.create.mutate({
      projectId,
      label: "parent",
      role: "admin",
      expiresAt: parentEnd,
    });
    const asParent = apiClient(api.url, { bearer: parent.secret });
    const unbounded = await asParent.tokens.create.mutate({ projectId, label: "u", role: "admin" });
    expect(unbounded.token.expiresAt).toEqual(parentEnd);
    const later = await asParent.tokens.create.mutate({
      projectId,
      label: "later",
      role: "member",
      expiresAt: new Date(Date.now() + 48 * 3600_000),
    });
    expect(later.token.expiresAt).toEqual(parentEnd);
    const soonerEnd = new Date(Date.now() + 600_000);
    const sooner = await asParent.tokens.create.mutate({
      projectId,
      label: "sooner",
      role: "viewer",
      expiresAt: soonerEnd,
    });
    expect(sooner.token.expiresAt).toEqual(soonerEnd);
    // Nor can they outrank it.
    const member = await master.tokens.create.mutate({ projectId, label: "m", role: "admin" });
    const asMember = apiClient(api.url, { bearer: member.secret });
    await master.tokens.revoke.mutate({ id: member.token.id });
    expect(
      await callError(asMember.tokens.create.mutate({ projectId, label: "x", role: "viewer" })),
    ).toMatchObject({ code: "UNAUTHORIZED" });
  });
});

describe("the last owner", () => {
  it("two concurrent changes never leave a project without an owner", async () => {
    for (let round = 0; round < 6; round++) {
      const projectId = await newProject();
      const a = await createBareUser(services, unique("a") + "@example.com");
      const b = await createBareUser(services, unique("b") + "@example.com");
      await addMember(services, projectId, a.id, "owner");
      await addMember(services, projectId, b.id, "owner");
      const change = async (userId: string, kind: number): Promise<unknown> =>
        kind === 0
          ? await master.members.setRole.mutate({ projectId, userId, role: "member" })
          : await master.members.remove.mutate({ projectId, userId });
      const results = await Promise.all([
        outcome(change(a.id, round % 2)),
        outcome(change(b.id, Math.floor(round / 2) % 2)),
      ]);
      expect(
        results.filter((r) => r.ok),
        `round ${round}`,
      ).toHaveLength(1);
      expect(results.find((r) => !r.ok)).toMatchObject({
        error: { code: "PRECONDITION_FAILED" },
      });
      const owners = (await master.members.list.query({ projectId })).items.filter(
        (m) => m.role === "owner",
      );
      expect(owners, `round ${round}`).toHaveLength(1);
    }
  });
});

describe("invitation links", () => {
  it("come from configuration, not from the Host header", async () => {
    const projectId = await newProject();
    const res = await rawMutation(
      api.url,
      "members.invite",
      { projectId, email: "host@example.com", role: "viewer" },
      { headers: { authorization: `Bearer ${testMasterKey}`, host: "evil.example" } },
    );
    expect(res.status).toBe(200);
    const url = (res.json as { result: { data: { json: { inviteUrl: string } } } }).result.data.json
      .inviteUrl;
    expect(url.startsWith(`${api.url}/invite#token=`)).toBe(true);

    const configured = await startTestApi(services, { publicUrl: "https://osm.example.com" });
    try {
      const link = await apiClient(configured.url, { bearer: testMasterKey }).members.invite.mutate(
        {
          projectId,
          email: "configured@example.com",
          role: "viewer",
        },
      );
      expect(link.inviteUrl.startsWith("https://osm.example.com/invite#token=")).toBe(true);
    } finally {
      await configured.close();
    }
  });
});
