import { formatUsd, parseUsd } from "@osm/policy/money";
import type { KeyPolicy } from "@osm/policy/schemas";
import { type ApiClient, apiClient } from "@osm/testing/api";
import type { GatewayStack } from "@osm/testing/gateway";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  capture,
  chat,
  type Dashboard,
  eventually,
  newContext,
  openDashboard,
  owner,
  password,
  type Seeded,
  seedProject,
  settled,
  signIn,
  status,
} from "./harness.ts";

// The keys pages in Chromium against the real stack: the table's server-side search, filters,
// sorts and pages (all in the URL), bulk and inline changes proven at the gateway, the create
// dialog's secret kept out of every cache, the key page's live figures, rotation and reset, and
// the policy editor's every field refused by the gateway with its own code.

let dash: Dashboard;
let stack: GatewayStack;
let page: Page;
let seed: Seeded;
let api: ApiClient;
let acme = "";
let beta = "";

type Made = { id: string; secret: string; label: string };
const keys = new Map<string, Made>();

async function makeKey(
  label: string,
  extra: Omit<Parameters<ApiClient["keys"]["create"]["mutate"]>[0], "projectId" | "label"> = {},
  projectId = acme,
): Promise<Made> {
  const { key, secret } = await api.keys.create.mutate({ projectId, label, ...extra });
  const made = { id: key.id, secret, label };
  keys.set(label, made);
  return made;
}

const key = (label: string) => keys.get(label)!;
const keysUrl = (projectId = acme, query = "") => `${dash.base}/projects/${projectId}/keys${query}`;

/** The labels of the table's rows, top to bottom. */
function rows(p: Page = page): Promise<string[]> {
  return p
    .locator('[data-testid^="key-row-"]')
    .evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.testid!.slice(8)));
}

const row = (label: string) => page.getByTestId(`key-row-${label}`);

/** Settled spend of a key once the worker has landed `requests` of its requests. */
async function spendOf(label: string): Promise<bigint> {
  const k = await api.keys.get.query({ id: key(label).id });
  return parseUsd(k.spendUsd)!;
}

beforeAll(async () => {
  dash = await openDashboard();
  ({ stack, page } = dash);
  seed = await seedProject(dash);
  ({ api, projectId: acme } = seed);
  ({ id: beta } = await api.projects.create.mutate({ name: "Beta" }));
}, 120_000);

afterAll(async () => {
  await dash?.close();
});

describe("the keys table", () => {
  it("shows loading, then the empty state with a create button and a curl snippet", async () => {
    // Held back (not answered for it) so the loading state is there to see.
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    await page.route("**/trpc/keys.list**", async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(keysUrl());
    await page.getByRole("status").filter({ hasText: "Loading keys" }).waitFor();
    release();
    await page.getByText("No API keys yet").waitFor();
    await page.unroute("**/trpc/keys.list**");
    await page.getByRole("button", { name: "Create your first key" }).waitFor();
    const snippet = await page.getByLabel("curl example").textContent();
    expect(snippet).toMatch(/^curl https?:\/\/\S+\/v1\/chat\/completions/);
    expect(snippet).toContain('-H "Authorization: Bearer $OSM_KEY"');
    await capture(page, "keys-a-empty");
  });

  it("shows an error for a key that does not exist", async () => {
    await page.goto(`${keysUrl()}/key_does_not_exist`);
    await page.getByRole("alert").getByText("Something went wrong").waitFor();
    await capture(page, "key-a-missing");
  });

  it("creates a key with a limit, period and expiry; the secret is in no cache, URL or storage", async () => {
    await page.goto(keysUrl());
    await page.getByRole("button", { name: "Create your first key" }).click();
    const dialog = page.getByRole("dialog", { name: "Create API key" });
    // Bad input: a clear message each, and nothing created.
    await dialog.getByRole("button", { name: "Create key" }).click();
    await dialog.getByText("Give the key a label").waitFor();
    await dialog.getByLabel("Label", { exact: true }).fill("svc");
    for (const bad of ["-1", "abc", "0"]) {
      await dialog.getByLabel("Spending limit (USD)").fill(bad);
      await dialog.getByRole("button", { name: "Create key" }).click();
      await expect
        .poll(() => dialog.getByLabel("Spending limit (USD)").getAttribute("aria-invalid"))
        .toBe("true");
    }
    await dialog.getByText(/Must be greater than 0/).waitFor();
    expect((await api.keys.list.query({ projectId: acme })).items).toEqual([]);

    await dialog.getByLabel("Spending limit (USD)").fill("2.50");
    await dialog.getByLabel("Limit period").selectOption("weekly");
    // Three days ahead, typed as the viewer's local time.
    const local = await page.evaluate(() => {
      const d = new Date(Date.now() + 3 * 86_400_000);
      d.setSeconds(0, 0);
      const pad = (n: number) => String(n).padStart(2, "0");
      const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
      return { text, at: d.getTime() };
    });
    await dialog.getByLabel("Expires").fill(local.text);
    await dialog.getByRole("button", { name: "Create key" }).click();
    const shown = page.getByTestId("secret");
    await shown.waitFor();
    const secret = (await shown.textContent()) ?? "";
    expect(secret).toMatch(/^osm_/);

    const [created] = (await api.keys.list.query({ projectId: acme })).items;
    expect(created).toMatchObject({ label: "svc", spendLimitUsd: "2.5", budgetPeriod: "weekly" });
    expect(created!.expiresAt?.getTime()).toBe(local.at);
    keys.set("svc", { id: created!.id, secret, label: "svc" });

    await page.getByLabel("I have saved this secret").check();
    await page.getByRole("button", { name: "Done" }).click();
    await row("svc").waitFor();
    const where = await page.evaluate((s) => {
      const qc = (window as unknown as Record<string, unknown>).__osmQueryClient as {
        getQueryCache(): { getAll(): { state: { data: unknown } }[] };
        getMutationCache(): { getAll(): { state: { data: unknown } }[] };
      };
      const queries = JSON.stringify(
        qc
          .getQueryCache()
          .getAll()
          .map((q) => q.state.data),
      );
      const mutations = JSON.stringify(
        qc
          .getMutationCache()
          .getAll()
          .map((m) => m.state.data),
      );
      return {
        // The inspection really reads the app's cache: the new key's list row is in it.
        sawTheKey: queries.includes('"label":"svc"'),
        queries: queries.includes(s),
        mutations: mutations.includes(s),
        url: location.href.includes(s) || history.state?.toString().includes(s),
        localStorage: JSON.stringify({ ...localStorage }).includes(s),
        sessionStorage: JSON.stringify({ ...sessionStorage }).includes(s),
      };
    }, secret);
    expect(where).toEqual({
      sawTheKey: true,
      queries: false,
      mutations: false,
      url: false,
      localStorage: false,
      sessionStorage: false,
    });
    expect(await status(stack, secret, "fake-mini")).toBe(200);
  });

  it("shows computed badges, rule chips and the 24 h sparkline of keys set up for them", async () => {
    await makeKey("plain");
    await makeKey("near");
    await makeKey("capped");
    await makeKey("later", { expiresAt: new Date(Date.now() + 60 * 86_400_000) });
    await makeKey("shadowed", {
      policy: {
        mode: "shadow",
        models: { allow: ["fake-mini", "fake-big", "other-*"] },
        rateLimit: { requestsPerMinute: 60 },
      },
    });
    const rotating = await makeKey("rotating");
    await api.keys.rotate.mutate({ id: rotating.id, gracePeriodSeconds: 3600 });

    // Spend in a known order: plain least, near most, capped last used.
    expect(await status(stack, key("plain").secret, "fake-mini")).toBe(200);
    expect(await status(stack, key("near").secret, "fake-big")).toBe(200);
    expect(await status(stack, key("near").secret, "fake-big")).toBe(200);
    expect(await status(stack, key("capped").secret, "fake-big")).toBe(200);
    for (const label of ["plain", "near", "capped"]) {
      await eventually(
        () => api.keys.get.query({ id: key(label).id }),
        (k) => k.lastUsedAt !== null,
      );
    }
    // near at 85 % of a limit set from its spend; capped at exactly its spend.
    const near = await spendOf("near");
    await api.keys.update.mutate({
      id: key("near").id,
      spendLimitUsd: formatUsd((near * 100n) / 85n),
    });
    const capped = await spendOf("capped");
    await api.keys.update.mutate({ id: key("capped").id, spendLimitUsd: formatUsd(capped) });
    expect(
      await eventually(
        () => status(stack, key("capped").secret, "fake-big"),
        (s) => s !== 200,
      ),
    ).toMatch(/spending_limit_reached$/);

    await page.goto(keysUrl());
    await row("capped").getByText("Limit reached").waitFor();
    await row("near").getByText("Near limit · 85%").waitFor();
    await row("rotating")
      .getByText(/^Rotating · old valid in (59|60) minutes$/)
      .waitFor();
    await row("shadowed").getByText("Shadow policy").waitFor();
    await row("svc")
      .getByText(/^Expires in (2|3) days$/)
      .waitFor();
    // Sixty days away is not "soon"; an unlimited key is never near its limit.
    expect(
      await row("later")
        .getByText(/^Expires/)
        .count(),
    ).toBe(0);
    expect(
      await row("plain")
        .getByText(/Near limit|Limit reached/)
        .count(),
    ).toBe(0);
    for (const chip of ["3 models", "60 RPM"]) {
      await row("shadowed").getByText(chip, { exact: true }).waitFor();
    }
    await row("plain").getByText("All models").waitFor();
    await row("near").getByRole("img", { name: "near: 2 requests in the last 24 hours" }).waitFor();
    await row("plain")
      .getByRole("img", { name: "plain: 1 requests in the last 24 hours" })
      .waitFor();
    await row("later")
      .getByRole("img", { name: "later: 0 requests in the last 24 hours" })
      .waitFor();
    await capture(page, "keys-a-badges");
  });

  it("searches by label and by last four, in the URL and restored from it", async () => {
    await page.goto(keysUrl());
    await row("plain").waitFor();
    const search = page.getByLabel("Search by label or last four characters");
    await search.fill("near");
    await search.press("Enter");
    await expect.poll(() => rows()).toEqual(["near"]);
    expect(new URL(page.url()).searchParams.get("q")).toBe("near");
    await page.reload();
    await expect.poll(() => rows()).toEqual(["near"]);
    expect(await search.inputValue()).toBe("near");

    const lastFour = key("plain").secret.slice(-4);
    await search.fill(lastFour);
    await search.press("Enter");
    await expect.poll(() => rows()).toContain("plain");
    for (const label of await rows()) {
      expect(keys.get(label)?.secret.slice(-4)).toBe(lastFour);
    }
    await page.goto(keysUrl(acme, "?q=no-such-key"));
    await page.getByText("No key matches these filters").waitFor();
    await page.getByRole("button", { name: "Clear filters" }).click();
    await expect.poll(() => rows().then((r) => r.length)).toBe(7);
    expect(new URL(page.url()).search).toBe("");
  });

  it("the active toggle deactivates a key at the gateway, and the status filter finds it", async () => {
    await page.goto(keysUrl());
    await page.getByRole("switch", { name: "later active" }).click();
    await expect
      .poll(() => page.getByRole("switch", { name: "later active" }).getAttribute("aria-checked"))
      .toBe("false");
    expect(
      await eventually(
        () => status(stack, key("later").secret, "fake-mini"),
        (s) => s !== 200,
      ),
    ).toBe("403 key_inactive");

    await page.getByLabel("Status").selectOption("inactive");
    await expect.poll(() => rows()).toEqual(["later"]);
    expect(new URL(page.url()).searchParams.get("status")).toBe("inactive");
    await page.reload();
    await expect.poll(() => rows()).toEqual(["later"]);
    expect(await page.getByLabel("Status").inputValue()).toBe("inactive");
    await page.goto(keysUrl(acme, "?status=limit_reached"));
    await expect.poll(() => rows()).toEqual(["capped"]);
  });

  it("filters by limit state, in the URL and restored from it", async () => {
    for (const [state, expected] of [
      // "Near" is the filter's "≥ 80 %": a key at its limit is near it too.
      ["near", ["capped", "near"]],
      ["reached", ["capped"]],
      ["limited", ["capped", "near", "svc"]],
    ] as const) {
      await page.goto(keysUrl());
      await row("plain").waitFor();
      await page.getByLabel("Limit", { exact: true }).selectOption(state);
      await expect.poll(() => rows().then((r) => r.sort())).toEqual(expected);
      expect(new URL(page.url()).searchParams.get("limitState")).toBe(state);
      await page.reload();
      await expect.poll(() => rows().then((r) => r.sort())).toEqual(expected);
    }
    await page.goto(keysUrl(acme, "?limitState=none"));
    await expect
      .poll(() => rows().then((r) => r.sort()))
      .toEqual(["later", "plain", "rotating", "shadowed"]);
    expect(await page.getByLabel("Limit", { exact: true }).inputValue()).toBe("none");
  });

  it("sorts by spend, last used and expiry, in the URL and restored from it", async () => {
    for (const [sort, first] of [
      ["spend", ["near", "capped", "plain"]],
      // later's last calls were the toggle test's; svc's the create test's.
      ["lastUsed", ["later", "capped", "near", "plain", "svc"]],
      ["expiry", ["svc", "later"]],
    ] as const) {
      await page.goto(keysUrl());
      await row("plain").waitFor();
      await page.getByLabel("Sort by").selectOption(sort);
      await expect.poll(() => rows().then((r) => r.slice(0, first.length))).toEqual(first);
      expect(new URL(page.url()).searchParams.get("sort")).toBe(sort);
      await page.reload();
      await expect.poll(() => rows().then((r) => r.slice(0, first.length))).toEqual(first);
      expect(await page.getByLabel("Sort by").inputValue()).toBe(sort);
    }
  });

  it("bulk deactivates and activates keys, and the gateway follows", async () => {
    await page.goto(keysUrl());
    await page.getByRole("checkbox", { name: "Select plain" }).click();
    await page.getByRole("checkbox", { name: "Select shadowed" }).click();
    const bulk = page.getByRole("region", { name: "Bulk actions" });
    await bulk.getByText("2 selected").waitFor();
    await bulk.getByRole("button", { name: "Deactivate" }).click();
    await page.getByText("2 keys deactivated.").waitFor();
    for (const label of ["plain", "shadowed"]) {
      expect(
        await eventually(
          () => status(stack, key(label).secret, "fake-mini"),
          (s) => s !== 200,
        ),
      ).toBe("403 key_inactive");
      await row(label).getByText("Inactive", { exact: true }).waitFor();
    }
    expect(await status(stack, key("near").secret, "fake-mini")).toBe(200);

    await page.getByRole("checkbox", { name: "Select plain" }).click();
    await page.getByRole("checkbox", { name: "Select shadowed" }).click();
    await bulk.getByRole("button", { name: "Activate", exact: true }).click();
    await page.getByText("2 keys activated.").waitFor();
    for (const label of ["plain", "shadowed"]) {
      expect(
        await eventually(
          () => status(stack, key(label).secret, "fake-mini"),
          (s) => s === 200,
        ),
      ).toBe(200);
    }
  });

  it("renames a key inline; an empty label is refused and changes nothing", async () => {
    await page.goto(keysUrl());
    await page.getByRole("button", { name: "Rename rotating" }).click();
    const input = page.getByLabel("New label");
    await input.fill("   ");
    await page.getByRole("button", { name: "Save label" }).click();
    await page.getByText("label: must not be empty").waitFor();
    expect((await api.keys.get.query({ id: key("rotating").id })).label).toBe("rotating");

    await input.fill("rotating-renamed");
    await page.getByRole("button", { name: "Save label" }).click();
    await row("rotating-renamed").waitFor();
    expect((await api.keys.get.query({ id: key("rotating").id })).label).toBe("rotating-renamed");
    keys.set("rotating-renamed", key("rotating"));
  });

  it("pages through more keys than a page holds, and the project switcher changes keys and URL", async () => {
    for (let i = 1; i <= 27; i++) {
      await makeKey(`b-${String(i).padStart(2, "0")}`, {}, beta);
    }
    await page.goto(keysUrl());
    await row("plain").waitFor();
    await page.getByRole("button", { name: /Switch project/ }).click();
    await page.getByRole("menuitem", { name: "Beta" }).click();
    await page.waitForURL(keysUrl(beta));
    await expect.poll(() => rows()).toHaveLength(25);
    const first = await rows();
    expect(first.every((l) => l.startsWith("b-"))).toBe(true);

    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => rows()).toHaveLength(2);
    const second = await rows();
    expect(new URL(page.url()).searchParams.get("page")).toBeTruthy();
    expect([...first, ...second].sort()).toEqual(
      Array.from({ length: 27 }, (_, i) => `b-${String(i + 1).padStart(2, "0")}`),
    );
    expect(await page.getByRole("button", { name: "Next page" }).count()).toBe(0);
    await page.reload();
    await expect.poll(() => rows()).toEqual(second);
    await page.getByRole("button", { name: "First page" }).click();
    await expect.poll(() => rows()).toEqual(first);

    await page.getByRole("button", { name: /Switch project/ }).click();
    await page.getByRole("menuitem", { name: "Acme" }).click();
    await page.waitForURL(keysUrl(acme));
    await expect.poll(() => rows()).toContain("plain");
  });
});

describe("the key page", () => {
  it("shows the usage chart, live spend and reserved amount within seconds of a request", async () => {
    const k = await makeKey("detail", { spendLimitUsd: "1", budgetPeriod: "monthly" });
    await page.goto(`${keysUrl()}/${k.id}`);
    await page.getByText("No usage in this range").waitFor();
    expect(await page.getByTestId("spend").textContent()).toBe("$0.00");
    expect(await page.getByTestId("reserved").textContent()).toBe("$0.00");

    // A slow upstream holds the reservation long enough to see it.
    stack.fake.scriptNext({ latencyMs: 4000 });
    const slow = chat(stack, k.secret, "fake-big");
    await expect
      .poll(() => page.getByTestId("reserved").textContent(), { timeout: 3500 })
      .not.toBe("$0.00");
    await slow;
    await expect.poll(() => page.getByTestId("reserved").textContent()).toBe("$0.00");
    await expect.poll(() => page.getByTestId("spend").textContent()).not.toBe("$0.00");
    await page.getByTestId("recent-request").first().waitFor();
    await page.getByRole("figure", { name: "requests by model over 24h" }).waitFor();
    await settled(page);
    await capture(page, "key-a-detail");
  });

  it("the range picker changes the chart's range in the URL", async () => {
    for (const range of ["7d", "30d", "90d"]) {
      await page.getByRole("radio", { name: range }).click();
      await page.getByRole("figure", { name: `requests by model over ${range}` }).waitFor();
      expect(new URL(page.url()).searchParams.get("range")).toBe(range);
    }
    await page.reload();
    await page.getByRole("figure", { name: "requests by model over 90d" }).waitFor();
    expect(await page.getByRole("radio", { name: "90d" }).getAttribute("aria-checked")).toBe(
      "true",
    );
    await page.getByRole("radio", { name: "Cost" }).click();
    await page.getByRole("figure", { name: "cost by model over 90d" }).waitFor();
  });

  it("lists denials with code and message", async () => {
    await api.keys.update.mutate({
      id: key("detail").id,
      policy: { models: { allow: ["fake-mini"] } },
    });
    expect(
      await eventually(
        () => status(stack, key("detail").secret, "fake-big"),
        (s) => s !== 200,
      ),
    ).toBe("403 model_not_allowed");
    await page.getByText("Denied · model_not_allowed").first().waitFor({ timeout: 15_000 });
    await page
      .getByText("The key's policy does not allow this model (allow list or block list).")
      .first()
      .waitFor();
  });

  it("rotates immediately: the old secret fails at once and the new one works", async () => {
    const old = key("detail").secret;
    await page.getByRole("button", { name: "Rotate" }).click();
    await page.getByLabel("Immediately").check();
    await page.getByRole("button", { name: "Rotate key" }).click();
    const fresh = (await page.getByTestId("secret").textContent()) ?? "";
    expect(fresh).toMatch(/^osm_/);
    expect(fresh).not.toBe(old);
    await page.getByLabel("I have saved this secret").check();
    await page.getByRole("button", { name: "Done" }).click();
    expect(await page.getByTestId("grace-countdown").count()).toBe(0);
    expect(
      await eventually(
        () => status(stack, old, "fake-mini"),
        (s) => s !== 200,
      ),
    ).toBe("401 invalid_api_key");
    expect(await status(stack, fresh, "fake-mini")).toBe(200);
    keys.set("detail", { ...key("detail"), secret: fresh });
  });

  it("rotates with a custom grace, then ends the grace: the old secret then fails", async () => {
    const old = key("detail").secret;
    await page.getByRole("button", { name: "Rotate" }).click();
    await page.getByLabel("Custom").check();
    const hours = page.getByLabel("Hours (up to 720)");
    for (const bad of ["abc", "-1", "721"]) {
      await hours.fill(bad);
      await page.getByText("Between 0 and 720 hours").waitFor();
      expect(await page.getByRole("button", { name: "Rotate key" }).isDisabled()).toBe(true);
    }
    await hours.fill("2");
    await page.getByRole("button", { name: "Rotate key" }).click();
    const fresh = (await page.getByTestId("secret").textContent()) ?? "";
    await page.getByLabel("I have saved this secret").check();
    await page.getByRole("button", { name: "Done" }).click();
    expect(await page.getByTestId("grace-countdown").textContent()).toMatch(
      /^(01:59:\d\d|02:00:00)$/,
    );
    expect(
      await eventually(
        () => status(stack, fresh, "fake-mini"),
        (s) => s === 200,
      ),
    ).toBe(200);
    expect(await status(stack, old, "fake-mini")).toBe(200);

    await page.getByRole("button", { name: "End grace now" }).click();
    await page.getByText("Grace ended: the old secret no longer works.").waitFor();
    await expect.poll(() => page.getByTestId("grace-countdown").count()).toBe(0);
    expect(
      await eventually(
        () => status(stack, old, "fake-mini"),
        (s) => s !== 200,
      ),
    ).toBe("401 invalid_api_key");
    expect(await status(stack, fresh, "fake-mini")).toBe(200);
    keys.set("detail", { ...key("detail"), secret: fresh });
  });

  it("resets spend: back to $0.00 and the gateway admits a key that had hit its limit", async () => {
    const k = key("capped");
    await page.goto(`${keysUrl()}/${k.id}`);
    await page.getByText("Limit reached", { exact: true }).waitFor();
    await page.getByRole("button", { name: "Reset spend" }).click();
    await page.getByRole("button", { name: "Reset spend" }).last().click();
    await page.getByText("Spend reset.").waitFor();
    await expect.poll(() => page.getByTestId("spend").textContent()).toBe("$0.00");
    expect(
      await eventually(
        () => status(stack, k.secret, "fake-mini"),
        (s) => s === 200,
      ),
    ).toBe(200);
  });

  it("shows the audit trail of the actions taken", async () => {
    await page.goto(`${keysUrl()}/${key("detail").id}`);
    const trail = page.getByRole("heading", { name: "Audit trail" }).locator("xpath=../..");
    for (const action of ["key.create", "key.update", "key.rotate", "key.end_grace"]) {
      await trail.getByText(action, { exact: true }).first().waitFor();
    }
    await page.goto(`${keysUrl()}/${key("capped").id}`);
    await trail.getByText("key.reset_spend", { exact: true }).waitFor();
  });
});

describe("the policy editor", () => {
  let policyKey: Made;
  const policyNow = async (): Promise<KeyPolicy> =>
    (await api.keys.get.query({ id: policyKey.id })).policy;

  async function save(expected: KeyPolicy) {
    await page.getByRole("button", { name: "Save policy" }).click();
    await expect.poll(policyNow).toEqual({ mode: "enforce", ...expected });
  }

  /** The gateway's answer once the proxies have the saved policy. */
  const refused = (model: string, code: string | number) =>
    eventually(
      () => status(stack, policyKey.secret, model),
      (s) => s === code,
    );

  beforeAll(async () => {
    await api.providers.create.mutate({
      projectId: acme,
      id: "spare",
      kind: "openai",
      baseUrl: stack.fake.openaiBaseUrl,
      apiKey: "sk-upstream-secret",
    });
    await api.models.create.mutate({
      projectId: acme,
      id: "spare-mini",
      providerId: "spare",
      upstreamModel: "gpt-4o-mini",
      inputUsdPer1M: "0.15",
      outputUsdPer1M: "0.6",
      tier: "paid",
    });
    policyKey = await makeKey("policy-k");
  });

  it("allows and blocks providers picked from the project's providers", async () => {
    await page.goto(`${keysUrl()}/${policyKey.id}/policy`);
    const allow = page.getByLabel("Allow providers", { exact: true });
    expect(await allow.getAttribute("placeholder")).not.toContain("gpt-4o");
    expect(await allow.getAttribute("placeholder")).toContain("provider");
    const options = await allow.evaluate((el) =>
      [...((el as HTMLInputElement).list?.options ?? [])].map((o) => o.value).sort(),
    );
    expect(options).toEqual(["fake", "spare"]);
    await allow.fill("spare");
    await allow.press("Enter");
    await save({ providers: { allow: ["spare"] } });
    expect(await refused("fake-mini", "403 provider_blocked")).toBe("403 provider_blocked");
    expect(await status(stack, policyKey.secret, "spare-mini")).toBe(200);

    await page.getByRole("button", { name: "Remove spare" }).click();
    const block = page.getByLabel("Block providers", { exact: true });
    await block.fill("fake");
    await block.press("Enter");
    await save({ providers: { block: ["fake"] } });
    expect(await refused("fake-big", "403 provider_blocked")).toBe("403 provider_blocked");
    expect(await refused("spare-mini", 200)).toBe(200);
    await page.getByRole("button", { name: "Remove fake" }).click();
    await save({});
    await capture(page, "policy-a");
  });

  it("limits tiers", async () => {
    await page.getByLabel("paid", { exact: true }).check();
    await save({ tiers: ["paid"] });
    expect(await refused("fake-big", "403 tier_not_allowed")).toBe("403 tier_not_allowed");
    expect(await status(stack, policyKey.secret, "fake-mini")).toBe(200);
    await page.getByLabel("paid", { exact: true }).uncheck();
    await save({});
  });

  it("caps the price per 1M tokens", async () => {
    await page.getByLabel("Max output price (USD / 1M)").fill("1");
    await save({ maxOutputUsdPer1M: "1" });
    expect(await refused("fake-big", "403 price_limit_exceeded")).toBe("403 price_limit_exceeded");
    expect(await status(stack, policyKey.secret, "fake-mini")).toBe(200);
    await page.getByLabel("Max output price (USD / 1M)").fill("");
    await save({});
  });

  it("caps max tokens per request", async () => {
    await page.getByLabel("Max tokens per request").fill("8");
    await save({ maxTokensPerRequest: 8 });
    // The harness asks for 16.
    expect(await refused("fake-mini", "400 max_tokens_exceeded")).toMatch(/max_tokens_exceeded$/);
    await page.getByLabel("Max tokens per request").fill("");
    await save({});
  });

  it("blocks models by pattern, with a live preview of the catalog models it matches", async () => {
    const block = page.getByRole("combobox", { name: "Block", exact: true });
    await block.fill("fake-*");
    await block.press("Enter");
    await page.getByText(/^Matches 2 catalog models: /).waitFor();
    await page.getByRole("button", { name: "Remove fake-*" }).click();
    await block.fill("fake-b*");
    await block.press("Enter");
    await page.getByText("Matches 1 catalog model: fake-big").waitFor();
    await save({ models: { block: ["fake-b*"] } });
    expect(await refused("fake-big", "403 model_not_allowed")).toBe("403 model_not_allowed");
    expect(await status(stack, policyKey.secret, "fake-mini")).toBe(200);
    await page.getByRole("button", { name: "Remove fake-b*" }).click();
    await save({});
  });

  it("limits tokens and requests per minute", async () => {
    await page.getByLabel("Tokens per minute").fill("5");
    await save({ rateLimit: { tokensPerMinute: 5 } });
    expect(await refused("fake-mini", "429 rate_limit_exceeded")).toBe("429 rate_limit_exceeded");
    await page.getByLabel("Tokens per minute").fill("");
    await page.getByLabel("Requests per minute").fill("1");
    await save({ rateLimit: { requestsPerMinute: 1 } });
    // One request a minute: within a few calls the next is refused.
    expect(await refused("fake-mini", "429 rate_limit_exceeded")).toBe("429 rate_limit_exceeded");
  });

  it("refuses negative and non-numeric values with a message, and saves nothing", async () => {
    const before = await policyNow();
    for (const [field, bad, message] of [
      ["Max tokens per request", "-5", "Must be a whole number"],
      ["Requests per minute", "abc", "Must be a whole number"],
      ["Max input price (USD / 1M)", "-1", "Must be a USD amount"],
      ["Max output price (USD / 1M)", "cheap", "Must be a USD amount"],
    ] as const) {
      await page.getByLabel(field).fill(bad);
      await page.getByRole("button", { name: "Save policy" }).click();
      await page.getByText(message).first().waitFor();
      expect(await page.getByLabel(field).getAttribute("aria-invalid")).toBe("true");
      await page.getByRole("button", { name: "Discard changes" }).click();
    }
    expect(await policyNow()).toEqual(before);
  });
});

describe("access", () => {
  const fresh = async () => {
    const context = await newContext(dash.browser, dash.base);
    const p = await context.newPage();
    p.setDefaultTimeout(10_000);
    return { context, p };
  };
  const session = async (context: BrowserContext) =>
    (await context.cookies()).find((c) => c.name === "osm_session");

  it("a wrong password, or a gateway key as the password, never signs in", async () => {
    const { context, p } = await fresh();
    await p.goto(`${dash.base}/login`);
    for (const pw of ["not the password", key("near").secret]) {
      await p.getByLabel("Email").fill(owner);
      await p.getByLabel("Password").fill(pw);
      await p.getByRole("button", { name: "Sign in" }).click();
      await p.getByRole("alert").getByText("Invalid email or password.").waitFor();
      expect(new URL(p.url()).pathname).toBe("/login");
      expect(await session(context)).toBeUndefined();
    }
    await capture(p, "login-a-error");
    await expect(
      apiClient(dash.base, { cookies: new Map() }).auth.login.mutate({
        email: owner,
        password: key("near").secret,
      }),
    ).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    await context.close();
  });

  it("signs in and out: the page returns to the login and the API refuses the old cookie", async () => {
    const { context, p } = await fresh();
    await signIn(p, dash.base);
    await p.goto(keysUrl());
    await p.getByTestId("key-row-near").waitFor();
    const cookie = await session(context);
    expect(cookie).toBeDefined();
    await p.getByRole("button", { name: `Account: ${owner}` }).click();
    await p.getByRole("menuitem", { name: "Sign out" }).click();
    await p.waitForURL("**/login");
    await p.goto(keysUrl());
    await p.waitForURL("**/login");
    const old = apiClient(dash.base, { cookies: new Map([["osm_session", cookie!.value]]) });
    await expect(old.keys.list.query({ projectId: acme })).rejects.toMatchObject({
      data: { code: "UNAUTHORIZED" },
    });
    await context.close();
  });

  it("a viewer sees no mutation control on the keys, key and policy pages", async () => {
    const { inviteUrl } = await api.members.invite.mutate({
      projectId: acme,
      email: "viewer-a@example.com",
      role: "viewer",
    });
    const { context, p } = await fresh();
    await p.goto(inviteUrl.replace(/^https?:\/\/[^/]+/, dash.base));
    await p.getByLabel("Password").fill(password);
    await p.getByRole("button", { name: "Join the project" }).click();
    await p.waitForURL(`**/projects/${acme}`);
    await p.goto(keysUrl());
    await p.getByTestId("key-row-near").waitFor();
    expect(await p.getByRole("button", { name: /^Rename |Create/ }).count()).toBe(0);
    expect(await p.getByRole("switch").count()).toBe(0);
    expect(await p.getByRole("checkbox").count()).toBe(0);
    // A key in its grace period: the countdown shows, "End grace now" does not.
    await p.goto(`${keysUrl()}/${key("rotating").id}`);
    await p.getByTestId("grace-countdown").waitFor();
    for (const name of ["Rotate", "Deactivate", "Revoke", "Reset spend", "End grace now"]) {
      expect(await p.getByRole("button", { name }).count()).toBe(0);
    }
    await p.goto(`${keysUrl()}/${key("capped").id}/policy`);
    await p.getByRole("heading", { name: "Policy of capped" }).waitFor();
    expect(
      await p.getByRole("button", { name: /Save policy|Discard|^Add to |^Remove / }).count(),
    ).toBe(0);
    expect(await p.getByLabel("Max tokens per request").isDisabled()).toBe(true);
    await context.close();
  });

  it("changes the password: a wrong current one or a short new one changes nothing; then the old stops working", async () => {
    const { context, p } = await fresh();
    await signIn(p, dash.base);
    await p.goto(`${dash.base}/account`);
    const next = "a brand new passphrase";
    await p.getByLabel("Current password").fill("not the password");
    await p.getByLabel("New password").fill(next);
    await p.getByRole("button", { name: "Change password" }).click();
    await p.getByRole("alert").getByText("The current password is wrong.").waitFor();
    await p.getByLabel("Current password").fill(password);
    await p.getByLabel("New password").fill("short");
    await p.getByRole("button", { name: "Change password" }).click();
    await p.getByText("Must be at least 10 characters").waitFor();
    const anon = () => apiClient(dash.base, { cookies: new Map() });
    await anon().auth.login.mutate({ email: owner, password });

    await p.getByLabel("New password").fill(next);
    await p.getByRole("button", { name: "Change password" }).click();
    await p.getByText("Password changed. Your other sessions were signed out.").waitFor();
    await capture(p, "account-a");
    await expect(anon().auth.login.mutate({ email: owner, password })).rejects.toMatchObject({
      data: { code: "UNAUTHORIZED" },
    });
    await anon().auth.login.mutate({ email: owner, password: next });
    const again = await fresh();
    await signIn(again.p, dash.base, owner, next);
    await again.p.getByRole("button", { name: `Account: ${owner}` }).waitFor();
    await again.context.close();
    await context.close();
  });
});
