import { tmpdir } from "node:os";
import { join } from "node:path";
import { setupToken } from "@osm/api/setup-token";
import { apiClient, testSecret } from "@osm/testing/api";
import type { GatewayStack } from "@osm/testing/gateway";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  capture as captureAt,
  chat as chatVia,
  type Dashboard,
  eventually,
  openDashboard,
  owner,
  password,
  settled,
  status as statusVia,
} from "./harness.ts";

// The scripted user, in Debian's Chromium against the real API (serving the built
// dashboard), proxy, worker, PostgreSQL, Redis and the fake provider. Steps share one browser
// session and run in order.

let dash: Dashboard;
let stack: GatewayStack;
let browser: Browser;
let page: Page;
let base: string;
let projectId = "";
let keyId = "";
let secret = "";

const capture = (name: string) => captureAt(page, name);
const chat = (key: string, model: string) => chatVia(stack, key, model);
const status = (key: string, model: string) => statusVia(stack, key, model);

beforeAll(async () => {
  dash = await openDashboard();
  ({ stack, browser, page, base } = dash);
}, 120_000);

// The steps build on each other: after a failure the rest would only wait out their timeouts.
let failed = "";
beforeEach((ctx) => {
  if (failed) ctx.skip(`an earlier step failed: ${failed}`);
});
afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" && !failed) {
    failed = ctx.task.name;
    await page.screenshot({ path: join(tmpdir(), "osm-e2e-failure.png") }).catch(() => {});
  }
});

afterAll(async () => {
  await dash?.close();
});

describe("the scripted user", () => {
  it("sets up the owner and signs in", async () => {
    await page.goto(base);
    await page.waitForURL("**/setup");
    await capture("setup");
    await page.getByLabel("Setup token").fill(setupToken(testSecret));
    await page.getByLabel("Email").fill(owner);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Create owner account" }).click();
    await page.waitForURL("**/projects");
  });

  it("creates a project, a provider on the fake provider and models", async () => {
    await page.getByLabel("New project").fill("Acme");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.waitForURL(/\/projects\/prj_[^/]+\/keys$/);
    projectId = page.url().split("/projects/")[1]!.split("/")[0]!;
    await page.getByText("No API keys yet").waitFor();
    await capture("keys-empty");

    await page.getByRole("link", { name: "Catalog" }).click();
    await page.getByRole("button", { name: "Add provider" }).first().click();
    await page.getByLabel("Id", { exact: true }).fill("fake");
    await page.getByLabel("Base URL").fill(stack.fake.openaiBaseUrl);
    await page.getByLabel("API key").fill("sk-upstream-secret");
    await page.getByRole("button", { name: "Add provider" }).last().click();
    await page.getByRole("cell", { name: "fake", exact: true }).waitFor();
    await page.getByRole("button", { name: "Test connection" }).click();
    await page
      .getByTestId("provider-test-fake")
      .getByText(/^Connected · \d+ ms$/)
      .waitFor();
    for (const [id, out] of [
      ["fake-mini", "0.6"],
      ["fake-big", "60"],
    ] as const) {
      await page.getByRole("button", { name: "Add model" }).first().click();
      await page.getByLabel("Model id").fill(id);
      await page.getByLabel("Upstream model").fill("gpt-4o-mini");
      await page.getByLabel("Input USD / 1M").fill("0.15");
      await page.getByLabel("Output USD / 1M").fill(out);
      await page.getByRole("button", { name: "Add model" }).last().click();
      await page.getByRole("cell", { name: id, exact: true }).waitFor();
    }
    await capture("catalog");
  });

  it("creates a key and copies it from the one-time reveal", async () => {
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByRole("button", { name: "Create key" }).first().click();
    await page.getByLabel("Label", { exact: true }).fill("backend");
    await page.getByLabel("Spending limit (USD)").fill("5");
    await page.getByRole("button", { name: "Create key" }).last().click();
    const shown = page.getByTestId("secret");
    await shown.waitFor();
    await page.getByRole("button", { name: "Copy key" }).click();
    await page.getByRole("status").filter({ hasText: "Copied to the clipboard." }).waitFor();
    secret = await page.evaluate(() => navigator.clipboard.readText());
    expect(secret).toMatch(/^osm_/);
    expect(await shown.textContent()).toBe(secret);
    expect(page.url()).not.toContain(secret);
    await capture("key-reveal");
    // Closing without saying it was saved asks first.
    await page.getByRole("button", { name: "Done" }).click();
    await page.getByText("Close without saving?").waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.getByLabel("I have saved this secret").check();
    await page.getByRole("button", { name: "Done" }).click();
    await page.getByTestId("key-row-backend").waitFor();
    await capture("keys");
  });

  it("calls the gateway and sees spend and the request appear without reloading", async () => {
    await page.getByRole("link", { name: "backend" }).click();
    await page.waitForURL(/\/keys\/key_[^/]+$/);
    keyId = page.url().split("/keys/")[1]!;
    expect(await page.getByTestId("spend").textContent()).toBe("$0.00");
    const reply = await chat(secret, "fake-mini");
    expect(reply.choices[0]?.message).toBeDefined();
    await page.getByTestId("recent-request").first().waitFor({ timeout: 15_000 });
    await expect
      .poll(() => page.getByTestId("spend").textContent(), { timeout: 15_000 })
      .not.toBe("$0.00");
    await capture("key-detail");
  });

  it("denies a model outside the allow list and shows the denial on the logs page", async () => {
    await page.getByRole("link", { name: "Edit policy" }).click();
    const allowOnly = page.getByRole("combobox", { name: "Allow only" });
    await allowOnly.fill("fake-m*");
    await allowOnly.press("Enter");
    await page.getByText("Matches 1 catalog model: fake-mini").waitFor();
    await page.getByRole("button", { name: "Save policy" }).click();
    await page.getByText("Policy saved and enforced.").waitFor();
    expect(
      await eventually(
        () => status(secret, "fake-big"),
        (s) => s !== 200,
      ),
    ).toBe("403 model_not_allowed");
    await page.getByRole("link", { name: "Logs" }).click();
    await page.getByRole("button", { name: "Denied, last 24 h" }).click();
    await page.getByText("Denied · model_not_allowed").first().waitFor({ timeout: 15_000 });
    await page.getByTestId("log-row").first().click();
    await page.getByText("The key's policy does not allow this model").waitFor();
    await capture("logs-drawer");
    await page.getByRole("link", { name: "Open the key's policy" }).click();
    await page.waitForURL(/\/policy$/);
  });

  it("runs the policy in shadow mode, counts the shadow denial and simulates requests", async () => {
    await page.getByRole("switch", { name: "Shadow mode" }).click();
    await page.getByRole("button", { name: "Save policy" }).click();
    await page.getByText("Policy saved in shadow mode").waitFor();
    expect(
      await eventually(
        () => status(secret, "fake-big"),
        (s) => s === 200,
      ),
    ).toBe(200);
    // The panel refreshes on its own: the call just made is counted without a reload.
    await expect
      .poll(() => page.getByTestId("shadow-total").textContent(), { timeout: 15_000 })
      .toContain("Would have denied 1 request");
    await page
      .getByRole("table", { name: "Would-be denials by rule" })
      .getByRole("cell", { name: "model_not_allowed" })
      .waitFor();

    await page.getByLabel("Model", { exact: true }).fill("fake-big");
    await page.getByRole("button", { name: "Simulate" }).click();
    await page.getByTestId("sim-result").getByText("Allowed · fake-big via fake").waitFor();
    await page.getByTestId("sim-result").getByText("model_not_allowed").waitFor();
    await page.getByLabel("Model", { exact: true }).fill("no-such-model");
    await page.getByRole("button", { name: "Simulate" }).click();
    await page.getByText("Denied · HTTP 404 · model_not_found").waitFor();
    await capture("policy");

    await page.getByRole("link", { name: "Logs" }).click();
    await page.getByLabel("Outcome").selectOption("shadow_denied");
    await page.getByText("Shadow-denied · model_not_allowed").first().waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("log-row").count()).toBe(1);
    await page.getByTestId("log-row").first().click();
    await page.getByText("the key's shadow policy would have refused it").waitFor();
    await page.keyboard.press("Escape");
  });

  it("deactivates, rotates with a grace period, and revokes the key", async () => {
    await page.goto(`${base}/projects/${projectId}/keys/${keyId}`);
    await page.getByRole("button", { name: "Deactivate" }).click();
    await page.getByRole("button", { name: "Activate" }).waitFor();
    expect(
      await eventually(
        () => status(secret, "fake-mini"),
        (s) => s !== 200,
      ),
    ).toBe("403 key_inactive");
    await page.getByRole("button", { name: "Activate" }).click();
    await page.getByRole("button", { name: "Deactivate" }).waitFor();
    expect(
      await eventually(
        () => status(secret, "fake-mini"),
        (s) => s === 200,
      ),
    ).toBe(200);

    await page.getByRole("button", { name: "Rotate" }).click();
    await page.getByLabel("1 hour").check();
    await page.getByRole("button", { name: "Rotate key" }).click();
    const rotated = (await page.getByTestId("secret").textContent()) ?? "";
    expect(rotated).toMatch(/^osm_/);
    expect(rotated).not.toBe(secret);
    await page.getByLabel("I have saved this secret").check();
    await page.getByRole("button", { name: "Done" }).click();
    await page.getByTestId("grace-countdown").waitFor();
    expect(
      await eventually(
        () => status(rotated, "fake-mini"),
        (s) => s === 200,
      ),
    ).toBe(200);
    expect(await status(secret, "fake-mini")).toBe(200);

    await page.getByRole("button", { name: "Revoke" }).click();
    const confirm = page.getByRole("button", { name: "Revoke key" });
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByLabel("Key label").fill("backend");
    await confirm.click();
    await page.getByText("Revoked", { exact: true }).waitFor();
    expect(
      await eventually(
        () => status(rotated, "fake-mini"),
        (s) => s !== 200,
      ),
    ).toMatch(/^401/);
    expect(await status(secret, "fake-mini")).toMatch(/^401/);
  });

  it("captures the other main pages", async () => {
    for (const [name, path] of [
      ["overview", ""],
      ["usage", "/usage"],
      ["logs", "/logs"],
      ["settings", "/settings"],
    ] as const) {
      await page.goto(`${base}/projects/${projectId}${path}`);
      await settled(page);
      await capture(name);
    }
  });

  it("invites someone, sees the open invitation and revokes it", async () => {
    await page.goto(`${base}/projects/${projectId}/settings`);
    await page.getByLabel("Email").fill("later@example.com");
    await page.getByLabel("Role", { exact: true }).selectOption("member");
    await page.getByRole("button", { name: "Invite", exact: true }).click();
    const row = page.getByTestId("invitation-later@example.com");
    await row.waitFor();
    await page.getByRole("button", { name: "Revoke the invitation for later@example.com" }).click();
    await page.getByText("The invitation for later@example.com no longer works.").waitFor();
    await page.getByText("No open invitations.").waitFor();
    expect(await row.count()).toBe(0);
  });

  it("a viewer sees no mutation controls and the API refuses them", async () => {
    const cookies = new Map<string, string>();
    const ownerClient = apiClient(base, { cookies });
    await ownerClient.auth.login.mutate({ email: owner, password });
    const { inviteUrl } = await ownerClient.members.invite.mutate({
      projectId,
      email: "viewer@example.com",
      role: "viewer",
    });
    const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const viewer = await viewerContext.newPage();
    await viewer.goto(inviteUrl.replace(/^https?:\/\/[^/]+/, base));
    await viewer.getByLabel("Password").fill(password);
    await viewer.getByRole("button", { name: "Join the project" }).click();
    await viewer.waitForURL(`**/projects/${projectId}`);
    await viewer.goto(`${base}/projects/${projectId}/keys`);
    await viewer.getByTestId("key-row-backend").waitFor();
    expect(await viewer.getByRole("button", { name: "Create key" }).count()).toBe(0);
    expect(await viewer.getByRole("switch").count()).toBe(0);
    expect(await viewer.getByRole("checkbox").count()).toBe(0);
    await viewer.goto(`${base}/projects/${projectId}/keys/${keyId}`);
    await viewer.getByRole("link", { name: "View policy" }).waitFor();
    for (const name of ["Rotate", "Deactivate", "Revoke", "Reset spend"]) {
      expect(await viewer.getByRole("button", { name }).count()).toBe(0);
    }
    await viewer.getByRole("link", { name: "View policy" }).click();
    await viewer.getByRole("heading", { name: "Policy of backend" }).waitFor();
    expect(await viewer.getByRole("button", { name: /Save policy|Discard/ }).count()).toBe(0);
    expect(await viewer.getByRole("switch", { name: "Shadow mode" }).isDisabled()).toBe(true);
    expect(await viewer.getByRole("button", { name: /^Add to / }).count()).toBe(0);
    await viewer.goto(`${base}/projects/${projectId}/settings`);
    await viewer.getByRole("table", { name: "Members" }).waitFor();
    expect(await viewer.getByRole("button", { name: /Invite|Remove|Revoke/ }).count()).toBe(0);
    expect(await viewer.getByRole("tab", { name: /Tokens|Alerts/ }).count()).toBe(0);
    await viewer.goto(`${base}/projects/${projectId}/catalog`);
    await viewer.getByRole("heading", { name: "Models" }).waitFor();
    expect(
      await viewer.getByRole("button", { name: /Add|Import|Delete|Test connection/ }).count(),
    ).toBe(0);

    const session = (await viewerContext.cookies()).find((c) => c.name === "osm_session");
    const asViewer = apiClient(base, { cookies: new Map([["osm_session", session!.value]]) });
    await expect(asViewer.keys.create.mutate({ projectId, label: "nope" })).rejects.toMatchObject({
      data: { code: "FORBIDDEN" },
    });
    await expect(
      asViewer.keys.update.mutate({ id: keyId, label: "renamed" }),
    ).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
    await expect(asViewer.providers.test.mutate({ projectId, id: "fake" })).rejects.toMatchObject({
      data: { code: "FORBIDDEN" },
    });
    await viewerContext.close();
  });
});
