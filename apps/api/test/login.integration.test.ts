import {
  type ApiClient,
  apiClient,
  startTestApi,
  testMasterKey,
  testSecret,
} from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionCookie } from "../src/actor.ts";
import {
  maxFailuresPerAccountAndAddress,
  maxFailuresPerAddress,
} from "../src/auth/login-throttle.ts";
import { setupToken } from "../src/auth/setup-token.ts";
import {
  callError,
  cookieClient,
  createUser,
  password,
  rawError,
  rawMutation,
  rawRequest,
} from "./helpers.ts";

// The first owner, sign-in, throttling of failed sign-ins, and sessions. Tests run in order:
// the instance starts empty and the first test creates its owner.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let master: ApiClient;

const ownerEmail = "owner@example.com";
let ownerId: string;

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  master = apiClient(api.url, { bearer: testMasterKey });
});

afterAll(async () => {
  await api?.close();
  await services?.close();
});

async function userCount(): Promise<number> {
  const [row] = await services.sql<{ n: number }[]>`select count(*)::int as n from users`;
  return row!.n;
}

function loginFrom(localAddress: string, email: string, pw: string) {
  return rawMutation(api.url, "auth.login", { email, password: pw }, { localAddress });
}

describe("the first owner", () => {
  it("an empty instance says that setup is needed", async () => {
    expect(await apiClient(api.url).auth.me.query()).toEqual({ actor: null, needsSetup: true });
  });

  it("refuses a signup without the setup token or with a wrong one", async () => {
    const anonymous = apiClient(api.url);
    const missing = await callError(
      anonymous.auth.signup.mutate({ email: ownerEmail, password } as never),
    );
    expect(missing).toMatchObject({ code: "BAD_REQUEST" });
    expect(missing.fields?.map((f) => f.path)).toEqual(["setupToken"]);
    for (const token of ["", "wrong", setupToken("another-secret-0123456789-abcdefghijk")]) {
      const err = await callError(
        anonymous.auth.signup.mutate({ email: ownerEmail, password, setupToken: token }),
      );
      expect(err).toMatchObject({ code: "FORBIDDEN", message: "Invalid setup token." });
    }
    expect(await userCount()).toBe(0);
  });

  it("with the setup token, exactly one of several concurrent signups becomes the owner", async () => {
    const jars = [0, 1, 2].map(() => new Map<string, string>());
    const results = await Promise.allSettled(
      jars.map((cookies, i) =>
        apiClient(api.url, { cookies }).auth.signup.mutate({
          email: i === 0 ? "Owner@Example.com" : `rival${i}@example.com`,
          password,
          setupToken: setupToken(testSecret),
        }),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") {
        expect(r.reason).toMatchObject({ message: expect.stringMatching(/Sign-up is closed/) });
      }
    }
    expect(await userCount()).toBe(1);
    // Whoever won, start the rest of the file from a known owner.
    const winner = won[0]!.value;
    await services.sql`update users set email = ${ownerEmail} where id = ${winner.id}`;
    ownerId = winner.id;
    const winnerJar = jars[results.indexOf(won[0]!)]!;
    expect(winnerJar.get(sessionCookie)).toBeTruthy();
    const me = await apiClient(api.url, { cookies: winnerJar }).auth.me.query();
    expect(me).toMatchObject({ actor: { type: "user", id: winner.id }, needsSetup: false });
  });

  it("is closed once someone has signed up, even with the right token", async () => {
    const err = await callError(
      apiClient(api.url).auth.signup.mutate({
        email: "late@example.com",
        password,
        setupToken: setupToken(testSecret),
      }),
    );
    expect(err).toMatchObject({ code: "FORBIDDEN", message: expect.stringMatching(/closed/) });
    expect(await userCount()).toBe(1);
    expect(await apiClient(api.url).auth.me.query()).toEqual({ actor: null, needsSetup: false });
  });
});

describe("signing in", () => {
  it("stores emails lower-cased and matches them regardless of case", async () => {
    const cookies = new Map<string, string>();
    const user = await apiClient(api.url, { cookies }).auth.login.mutate({
      email: "OWNER@example.COM",
      password,
    });
    expect(user).toEqual({ id: ownerId, email: ownerEmail });
    expect(cookies.get(sessionCookie)).toBeTruthy();
  });

  it("answers a wrong password and an unknown email alike", async () => {
    const wrongPassword = await loginFrom("127.0.0.1", ownerEmail, "not the password");
    const unknownEmail = await loginFrom("127.0.0.1", "nobody@example.com", password);
    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(wrongPassword.status);
    expect(rawError(wrongPassword)).toEqual({
      code: "UNAUTHORIZED",
      message: "Invalid email or password.",
    });
    expect(rawError(unknownEmail)).toEqual(rawError(wrongPassword));
    expect(wrongPassword.headers["set-cookie"]).toBeUndefined();
    expect(unknownEmail.headers["set-cookie"]).toBeUndefined();
  });

  it("throttles failures per account and address with 429 and Retry-After, not globally", async () => {
    const attacker = "127.0.0.3";
    for (let i = 1; i <= maxFailuresPerAccountAndAddress; i++) {
      const res = await loginFrom(attacker, ownerEmail, `guess number ${i}`);
      expect(res.status, `failure ${i}`).toBe(401);
      expect(res.headers["retry-after"]).toBeUndefined();
    }
    const throttled = await loginFrom(attacker, ownerEmail, "guess number 11");
    expect(throttled.status).toBe(429);
    expect(rawError(throttled)?.code).toBe("TOO_MANY_REQUESTS");
    const retryAfter = Number(throttled.headers["retry-after"]);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);

    // Even the right password is refused from that address while it is throttled.
    const right = await loginFrom(attacker, ownerEmail, password);
    expect(right.status).toBe(429);
    expect(right.headers["set-cookie"]).toBeUndefined();

    // The owner, elsewhere, still gets in: there is no global account lock.
    const elsewhere = await loginFrom("127.0.0.4", ownerEmail, password);
    expect(elsewhere.status).toBe(200);
    const cookie = String(elsewhere.headers["set-cookie"]);
    expect(cookie).toMatch(new RegExp(`^${sessionCookie}=[^;]+;`));

    // Another account from the attacker's address is not locked by the owner's failures.
    await createUser(services, "colleague@example.com");
    const colleague = await loginFrom(attacker, "colleague@example.com", password);
    expect(colleague.status).toBe(200);
  });
});

describe("signing in, concurrently", () => {
  it("a burst of parallel guesses gets no more password checks than the limit allows", async () => {
    const attacker = "127.0.0.5";
    const burst = await Promise.all(
      Array.from({ length: 2 * maxFailuresPerAccountAndAddress }, (_, i) =>
        loginFrom(attacker, ownerEmail, `parallel guess ${i}`),
      ),
    );
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(maxFailuresPerAccountAndAddress);
    expect(statuses.filter((s) => s === 429)).toHaveLength(maxFailuresPerAccountAndAddress);
    expect((await loginFrom(attacker, ownerEmail, password)).status).toBe(429);
  });

  it("one address that fails across many accounts is throttled for every account", async () => {
    const sprayer = "127.0.0.6";
    const burst = await Promise.all(
      Array.from({ length: maxFailuresPerAddress }, (_, i) =>
        loginFrom(sprayer, `nobody${i % 5}@example.com`, "spray"),
      ),
    );
    expect(burst.map((r) => r.status)).toEqual(burst.map(() => 401));
    const next = await loginFrom(sprayer, "someone-else@example.com", "spray");
    expect(next.status).toBe(429);
    expect(Number(next.headers["retry-after"])).toBeGreaterThan(0);
    // Including the owner, with the right password, from that address only.
    expect((await loginFrom(sprayer, ownerEmail, password)).status).toBe(429);
    expect((await loginFrom("127.0.0.7", ownerEmail, password)).status).toBe(200);
  });
});

describe("sessions", () => {
  it("sets an HttpOnly, SameSite=Strict session cookie for the whole site", async () => {
    const res = await loginFrom("127.0.0.1", ownerEmail, password);
    const cookie = String(res.headers["set-cookie"]);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).toMatch(/; Max-Age=\d+/);
  });

  it("survives across clients that share the cookie jar", async () => {
    const cookies = new Map<string, string>();
    await apiClient(api.url, { cookies }).auth.login.mutate({ email: ownerEmail, password });
    const other = apiClient(api.url, { cookies });
    const me = await other.auth.me.query();
    expect(me.actor).toMatchObject({ type: "user", id: ownerId, email: ownerEmail });
    const projects = await other.projects.list.query();
    expect(projects.items).toEqual([]);
  });

  it("logout clears the cookie and ends the session on the server", async () => {
    const cookies = new Map<string, string>();
    const client = apiClient(api.url, { cookies });
    await client.auth.login.mutate({ email: ownerEmail, password });
    const token = cookies.get(sessionCookie)!;
    const res = await rawRequest(api.url, {
      path: "/trpc/auth.logout",
      headers: { "content-type": "application/json", cookie: `${sessionCookie}=${token}` },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(String(res.headers["set-cookie"])).toMatch(new RegExp(`^${sessionCookie}=;.*Max-Age=0`));
    // Replaying the old cookie value no longer signs anyone in.
    const replay = cookieClient(api.url, token);
    expect((await replay.auth.me.query()).actor).toBeNull();
    expect(await callError(replay.projects.list.query())).toMatchObject({ code: "UNAUTHORIZED" });
    // Through the client, logout empties the jar.
    await client.auth.login.mutate({ email: ownerEmail, password });
    expect(cookies.has(sessionCookie)).toBe(true);
    await client.auth.logout.mutate();
    expect(cookies.has(sessionCookie)).toBe(false);
    expect((await client.auth.me.query()).actor).toBeNull();
  });

  it("changePassword ends every other session and keeps this one", async () => {
    const a = new Map<string, string>();
    const b = new Map<string, string>();
    const here = apiClient(api.url, { cookies: a });
    const there = apiClient(api.url, { cookies: b });
    await here.auth.login.mutate({ email: ownerEmail, password });
    await there.auth.login.mutate({ email: ownerEmail, password });

    const wrong = await callError(
      here.auth.changePassword.mutate({
        currentPassword: "not it at all",
        newPassword: "x".repeat(12),
      }),
    );
    expect(wrong).toMatchObject({ code: "UNAUTHORIZED" });
    expect((await there.auth.me.query()).actor).not.toBeNull();

    const newPassword = "a brand new passphrase";
    await here.auth.changePassword.mutate({ currentPassword: password, newPassword });
    expect((await here.auth.me.query()).actor).toMatchObject({ id: ownerId });
    expect((await there.auth.me.query()).actor).toBeNull();
    const [sessions] = await services.sql<{ n: number }[]>`
      select count(*)::int as n from sessions where user_id = ${ownerId}`;
    expect(sessions!.n).toBe(1);

    expect(
      await callError(apiClient(api.url).auth.login.mutate({ email: ownerEmail, password })),
    ).toMatchObject({ code: "UNAUTHORIZED" });
    await apiClient(api.url).auth.login.mutate({ email: ownerEmail, password: newPassword });
    // Put the password back for the tests that follow.
    await here.auth.changePassword.mutate({ currentPassword: newPassword, newPassword: password });
  });

  it("a management token or the master key cannot change a password", async () => {
    const err = await callError(
      master.auth.changePassword.mutate({ currentPassword: password, newPassword: password }),
    );
    expect(err.code).toBe("FORBIDDEN");
  });
});

describe("auth.me", () => {
  it("shows the projects of the signed-in person with their role", async () => {
    const cookies = new Map<string, string>();
    const owner = apiClient(api.url, { cookies });
    await owner.auth.login.mutate({ email: ownerEmail, password });
    const mine = await owner.projects.create.mutate({ name: "Alpha" });
    const theirs = await master.projects.create.mutate({ name: "Beta" });
    await master.projects.create.mutate({ name: "Gamma, not mine" });
    const { inviteUrl } = await master.members.invite.mutate({
      projectId: theirs.id,
      email: ownerEmail,
      role: "viewer",
    });
    // An existing person accepts with their own password.
    const joined = await apiClient(api.url).auth.acceptInvite.mutate({
      token: new URL(inviteUrl).hash.slice("#token=".length),
      password,
    });
    expect(joined).toEqual({ id: ownerId, email: ownerEmail, projectId: theirs.id });

    const me = await owner.auth.me.query();
    expect(me).toEqual({
      actor: {
        type: "user",
        id: ownerId,
        email: ownerEmail,
        projects: [
          { id: mine.id, name: "Alpha", role: "owner" },
          { id: theirs.id, name: "Beta", role: "viewer" },
        ],
      },
      needsSetup: false,
    });
  });

  it("describes a token and the master key", async () => {
    const projectId = (await master.projects.create.mutate({ name: "Tokens" })).id;
    const { token, secret } = await master.tokens.create.mutate({
      projectId,
      label: "ci",
      role: "member",
    });
    expect(await apiClient(api.url, { bearer: secret }).auth.me.query()).toEqual({
      actor: { type: "token", id: token.id, projectId, role: "member" },
      needsSetup: false,
    });
    expect(await master.auth.me.query()).toEqual({ actor: { type: "master" }, needsSetup: false });
  });
});

describe("invitations", () => {
  const tokenOf = (inviteUrl: string) => new URL(inviteUrl).hash.slice("#token=".length);

  it("an invitation link works once", async () => {
    const projectId = (await master.projects.create.mutate({ name: "Once" })).id;
    const { inviteUrl, expiresAt } = await master.members.invite.mutate({
      projectId,
      email: "Once@Example.com",
      role: "member",
    });
    expect(inviteUrl.startsWith(`${api.url}/invite#token=`)).toBe(true);
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now() + 6 * 24 * 3600_000);
    const cookies = new Map<string, string>();
    const joined = await apiClient(api.url, { cookies }).auth.acceptInvite.mutate({
      token: tokenOf(inviteUrl),
      password,
    });
    expect(joined).toMatchObject({ email: "once@example.com", projectId });
    expect(cookies.get(sessionCookie)).toBeTruthy();
    const again = await callError(
      apiClient(api.url).auth.acceptInvite.mutate({ token: tokenOf(inviteUrl), password }),
    );
    expect(again).toMatchObject({ code: "NOT_FOUND" });
    expect(
      await callError(apiClient(api.url).auth.acceptInvite.mutate({ token: "made-up", password })),
    ).toMatchObject({ code: "NOT_FOUND", message: again.message });
  });

  it("a newcomer's password must be long enough, and the invitation stays open until then", async () => {
    const projectId = (await master.projects.create.mutate({ name: "Newcomer" })).id;
    const { inviteUrl } = await master.members.invite.mutate({
      projectId,
      email: "newcomer@example.com",
      role: "viewer",
    });
    const err = await callError(
      apiClient(api.url).auth.acceptInvite.mutate({ token: tokenOf(inviteUrl), password: "short" }),
    );
    expect(err).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400 });
    expect(err.fields?.map((f) => f.path)).toEqual(["password"]);
    expect((await master.members.list.query({ projectId })).items).toEqual([]);
    const joined = await apiClient(api.url).auth.acceptInvite.mutate({
      token: tokenOf(inviteUrl),
      password,
    });
    expect(joined).toMatchObject({ email: "newcomer@example.com", projectId });
  });

  it("an existing person must give their own password to accept", async () => {
    const projectId = (await master.projects.create.mutate({ name: "Existing" })).id;
    const { inviteUrl } = await master.members.invite.mutate({
      projectId,
      email: ownerEmail,
      role: "viewer",
    });
    const err = await callError(
      apiClient(api.url).auth.acceptInvite.mutate({
        token: tokenOf(inviteUrl),
        password: "not mine at all",
      }),
    );
    expect(err).toMatchObject({ code: "UNAUTHORIZED", message: "Invalid email or password." });
    const members = await master.members.list.query({ projectId });
    expect(members.items).toEqual([]);
  });

  it("password guesses through an invitation are throttled like sign-ins, on the same counters", async () => {
    // Anyone may create a project and invite any email: the inviter then holds a link that
    // checks the invited person's password.
    const projectId = (await master.projects.create.mutate({ name: "Guessing" })).id;
    const { inviteUrl } = await master.members.invite.mutate({
      projectId,
      email: ownerEmail,
      role: "viewer",
    });
    const token = tokenOf(inviteUrl);
    const guesser = "127.0.0.20";
    const accept = (pw: string, from = guesser) =>
      rawMutation(api.url, "auth.acceptInvite", { token, password: pw }, { localAddress: from });
    for (let i = 1; i <= maxFailuresPerAccountAndAddress; i++) {
      const res = await accept(`invite guess number ${i}`);
      expect(res.status).toBe(401);
    }
    const throttled = await accept(password);
    expect(throttled.status).toBe(429);
    expect(rawError(throttled)?.code).toBe("TOO_MANY_REQUESTS");
    expect(Number(throttled.headers["retry-after"])).toBeGreaterThan(0);
    // The guesses count against sign-in from that address too, and the other way round.
    expect((await loginFrom(guesser, ownerEmail, password)).status).toBe(429);
    expect((await master.members.list.query({ projectId })).items).toEqual([]);
    // The invitation stays open for its rightful recipient, elsewhere.
    const right = await accept(password, "127.0.0.21");
    expect(right.status).toBe(200);
  });

  it("a failed acceptance says the same whether or not the invited email has an account", async () => {
    const projectId = (await master.projects.create.mutate({ name: "Probing" })).id;
    const invite = async (email: string) =>
      tokenOf((await master.members.invite.mutate({ projectId, email, role: "viewer" })).inviteUrl);
    const known = await invite(ownerEmail);
    const unknown = await invite("no-account-here@example.com");
    const short = async (token: string) =>
      callError(apiClient(api.url).auth.acceptInvite.mutate({ token, password: "short" }));
    const [a, b] = [await short(known), await short(unknown)];
    expect(a).toEqual(b);
    expect(a).toMatchObject({ code: "BAD_REQUEST" });
    expect(a.fields?.map((f) => f.path)).toEqual(["password"]);
    expect((await master.members.list.query({ projectId })).items).toEqual([]);
  });

  it("accepting a lower role never leaves a project without an owner", async () => {
    const cookies = new Map<string, string>();
    const owner = apiClient(api.url, { cookies });
    await owner.auth.login.mutate({ email: ownerEmail, password });
    const projectId = (await owner.projects.create.mutate({ name: "Sole owner" })).id;
    const { inviteUrl } = await owner.members.invite.mutate({
      projectId,
      email: ownerEmail,
      role: "viewer",
    });
    const err = await callError(
      apiClient(api.url).auth.acceptInvite.mutate({ token: tokenOf(inviteUrl), password }),
    );
    expect(err).toMatchObject({ code: "PRECONDITION_FAILED" });
    const members = await owner.members.list.query({ projectId });
    expect(members.items.map((m) => [m.email, m.role])).toEqual([[ownerEmail, "owner"]]);
  });
});
