import { readFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { formatUsd, parseUsd } from "@osm/policy/money";
import { apiClient } from "@osm/testing/api";
import type { GatewayStack } from "@osm/testing/gateway";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatMoney } from "../src/lib/money.ts";
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

// The logs, usage, catalog, overview and settings pages in Debian's Chromium against the real
// stack, each feature proved where it lands: the API's state or the gateway's answer. The viewer
// sits in India, so every time shown must be in Asia/Kolkata, not the server's UTC.

const zone = "Asia/Kolkata";
let dash: Dashboard;
let stack: GatewayStack;
let page: Page;
let seed: Seeded;
let projectId = "";
const keys = { a: { id: "", secret: "" }, b: { id: "", secret: "" } };

/** "Dec 3 21:35:07": what the logs show for an instant, computed here for the viewer's zone. */
function kolkataSeconds(d: Date): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(d)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.month} ${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

// Queries poll every few seconds; the default second of expect.poll is too short for them.
const wait = { timeout: 15_000 };
const url = (path: string) => `${dash.base}/projects/${projectId}${path}`;
const search = () => new URL(page.url()).searchParams;

async function logs(input: { keyId?: string; outcome?: "allowed" | "denied" | "error" }) {
  return (await seed.api.logs.list.query({ projectId, limit: 100, ...input })).items;
}

/** Every log row of a key, page by page. */
async function countLogs(keyId: string): Promise<number> {
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await seed.api.logs.list.query({ projectId, keyId, limit: 100, cursor });
    n += page.items.length;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return n;
}

beforeAll(async () => {
  dash = await openDashboard({ timezoneId: zone });
  ({ stack, page } = dash);
  seed = await seedProject(dash);
  projectId = seed.projectId;
  const a = await seed.api.keys.create.mutate({ projectId, label: "backend" });
  const b = await seed.api.keys.create.mutate({
    projectId,
    label: "frontend",
    policy: { models: { allow: ["fake-mini"] } },
  });
  keys.a = { id: a.key.id, secret: a.secret };
  keys.b = { id: b.key.id, secret: b.secret };
}, 120_000);

afterAll(async () => {
  await dash?.close();
});

describe("logs", () => {
  it("shows an empty state before any request, then filters by key, outcome, code, model and time, each kept in the URL", async () => {
    await page.goto(url("/logs"));
    await page.getByText("No requests match").waitFor();

    await chat(stack, keys.a.secret, "fake-mini");
    await chat(stack, keys.a.secret, "fake-big");
    await chat(stack, keys.b.secret, "fake-mini");
    expect(await status(stack, keys.b.secret, "fake-big")).toBe("403 model_not_allowed");
    await eventually(
      () => logs({}),
      (items) => items.length === 4,
    );
    await page.getByTestId("log-row").nth(3).waitFor();
    expect(await page.getByTestId("log-row").count()).toBe(4);
    await capture(page, "logs");

    await page.getByLabel("Key").selectOption({ label: "frontend" });
    await expect.poll(() => search().get("keyId"), wait).toBe(keys.b.id);
    await expect.poll(() => page.getByTestId("log-row").count(), wait).toBe(2);

    await page.getByLabel("Outcome").selectOption("denied");
    await expect.poll(() => search().get("outcome"), wait).toBe("denied");
    await expect.poll(() => page.getByTestId("log-row").count(), wait).toBe(1);
    await expect(page.getByTestId("log-row").textContent()).resolves.toContain(
      "Denied · model_not_allowed",
    );

    // Restored from the URL alone: a fresh load keeps the filters and their controls.
    await page.reload();
    await settled(page);
    await expect.poll(() => page.getByTestId("log-row").count(), wait).toBe(1);
    expect(await page.getByLabel("Key").inputValue()).toBe(keys.b.id);
    expect(await page.getByLabel("Outcome").inputValue()).toBe("denied");

    await page.getByRole("button", { name: "Clear" }).click();
    await expect.poll(() => page.getByTestId("log-row").count(), wait).toBe(4);

    await page.getByLabel("Error code").fill("model_not_allowed");
    await page.getByLabel("Error code").press("Enter");
    await expect.poll(() => search().get("code"), wait).toBe("model_not_allowed");
    await expect.poll(() => page.getByTestId("log-row").count(), wait).toBe(1);
    await page.getByLabel("Error code").fill("");
    await page.getByLabel("Error code").press("Enter");

    await page.getByLabel("Model", { exact: true }).fill("fake-big");
    await page.getByLabel("Model", { exact: true }).press("Enter");
    await expect.poll(() => search().get("model"), wait).toBe("fake-big");
    await expect.poll(() => page.getByTestId("log-row").count(), wait).toBe(2);
    await page.reload();
    await settled(page);
    expect(await page.getByLabel("Model", { exact: true }).inputValue()).toBe("fake-big");
    await expect.poll(() => page.getByTestId("log-row").count(), wait).toBe(2);

    await page.getByLabel("Time range").selectOption("24h");
    await expect.poll(() => search().get("range"), wait).toBe("24h");
    await expect.poll(() => page.getByTestId("log-row").count(), wait).toBe(2);
  });

  it("opens the saved 'denied, last 24 h' view from the keyboard", async () => {
    await page.goto(url("/logs"));
    await settled(page);
    const saved = page.getByRole("button", { name: "Denied, last 24 h" });
    await saved.focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => search().get("outcome"), wait).toBe("denied");
    expect(search().get("range")).toBe("24h");
    await expect.poll(() => page.getByTestId("log-row").count(), wait).toBe(1);
  });

  it("explains an upstream error in the row drawer, with the time in the viewer's zone", async () => {
    stack.fake.scriptNext({ status: 400, errorMessage: "the upstream refused" });
    expect(await status(stack, keys.a.secret, "fake-mini")).not.toBe(200);
    const [failed] = await eventually(
      () => logs({ outcome: "error" }),
      (items) => items.length === 1,
    );
    expect(failed).toBeDefined();
    await page.goto(url("/logs?outcome=error"));
    const row = page.getByTestId("log-row");
    await expect.poll(() => row.count(), wait).toBe(1);
    await row.focus();
    await page.keyboard.press("Enter");
    const drawer = page.getByRole("dialog", { name: "Request details" });
    await drawer.waitFor();
    expect(search().get("request")).toBe(failed!.requestId);
    await drawer
      .getByText(/upstream/i)
      .first()
      .waitFor();
    await drawer.getByText(kolkataSeconds(failed!.admittedAt)).waitFor();
    await capture(page, "logs-drawer");
    await page.keyboard.press("Escape");
    await expect.poll(() => search().get("request"), wait).toBeNull();
  });

  it("keeps only a window of many rows in the DOM; scrolling reveals the older ones", async () => {
    const many = await seed.api.keys.create.mutate({ projectId, label: "batch" });
    for (let i = 0; i < 300; i += 20) {
      await Promise.all(Array.from({ length: 20 }, () => chat(stack, many.secret, "fake-mini")));
    }
    await eventually(
      () => countLogs(many.key.id),
      (n) => n === 300,
    );
    await page.goto(url(`/logs?keyId=${many.key.id}`));
    const rows = page.getByTestId("log-row");
    await rows.first().waitFor();
    const first = await rows.first().getAttribute("aria-label");
    const inDom = await rows.count();
    expect(inDom).toBeGreaterThan(5);
    expect(inDom).toBeLessThan(80);
    const scroller = page.getByTestId("logs-scroller");
    // Scrolling to the end repeatedly loads the older pages: all 300 rows become reachable.
    await expect
      .poll(async () => {
        await scroller.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
        return scroller.locator("table").getAttribute("aria-rowcount");
      }, wait)
      .toBe("300");
    await scroller.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
    await expect.poll(() => rows.first().getAttribute("aria-label"), wait).not.toBe(first);
    expect(await rows.count()).toBeLessThan(80);
  });
});

describe("catalog", () => {
  it("edits a provider's base URL and credential, never showing the credential, and a wrong base URL fails the connection test clearly", async () => {
    const bodies: string[] = [];
    const record = async (r: { url(): string; text(): Promise<string> }) => {
      if (r.url().includes("/trpc/")) bodies.push(await r.text().catch(() => ""));
    };
    page.on("response", record);
    await page.goto(url("/catalog"));
    await settled(page);
    const row = page.getByRole("row").filter({ hasText: stack.fake.openaiBaseUrl });
    await row.getByText("Set", { exact: true }).waitFor();
    await capture(page, "catalog-page");

    await page.getByRole("button", { name: "Edit provider fake" }).click();
    const dialog = page.getByRole("dialog", { name: "Edit provider fake" });
    expect(await dialog.getByLabel("Base URL").inputValue()).toBe(stack.fake.openaiBaseUrl);
    expect(await dialog.getByLabel("New API key").inputValue()).toBe("");

    // Bad input: a clear message, and the provider is unchanged.
    await dialog.getByLabel("Base URL").fill("not a url");
    await dialog.getByRole("button", { name: "Save provider" }).click();
    await dialog.getByText("Must be a URL like https://api.openai.com/v1").waitFor();
    // Another origin would receive the stored key: the API asks for the key again.
    await dialog.getByLabel("Base URL").fill("http://localhost:1/v1");
    await dialog.getByRole("button", { name: "Save provider" }).click();
    await dialog
      .getByRole("alert")
      .filter({ hasText: /apiKey.*required/i })
      .waitFor();
    const [unchanged] = (await seed.api.providers.list.query({ projectId, limit: 10 })).items;
    expect(unchanged!.baseUrl).toBe(stack.fake.openaiBaseUrl);

    const wrong = `${stack.fake.openaiBaseUrl}/nowhere`;
    await dialog.getByLabel("Base URL").fill(wrong);
    await dialog.getByRole("button", { name: "Save provider" }).click();
    await dialog.waitFor({ state: "detached" });
    await expect
      .poll(
        async () =>
          (await seed.api.providers.list.query({ projectId, limit: 10 })).items[0]!.baseUrl,
        wait,
      )
      .toBe(wrong);
    await page.getByRole("button", { name: "Test connection" }).click();
    const verdict = page.getByTestId("provider-test-fake");
    await verdict.getByText("Failed").waitFor();
    await verdict
      .getByText("The provider answered 404: check the base URL (and its /v1).")
      .waitFor();

    await page.getByRole("button", { name: "Edit provider fake" }).click();
    await dialog.getByLabel("Base URL").fill(stack.fake.openaiBaseUrl);
    await dialog.getByLabel("New API key").fill("sk-upstream-rotated");
    await dialog.getByRole("button", { name: "Save provider" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Test connection" }).click();
    await verdict.getByText(/^Connected · \d+ ms$/).waitFor();
    const fakeAuth = stack.fake.requests.at(-1)!.headers.authorization;
    expect(fakeAuth).toBe("Bearer sk-upstream-rotated");

    page.off("response", record);
    expect(bodies.length).toBeGreaterThan(3);
    for (const body of bodies) {
      expect(body).not.toContain("sk-upstream-secret");
      expect(body).not.toContain("sk-upstream-rotated");
    }
  });

  it("refuses a model with bad input, edits a price, shows which keys reach each model", async () => {
    await page.goto(url("/catalog"));
    await settled(page);
    const before = (await seed.api.models.list.query({ projectId, limit: 100 })).items;

    await page.getByRole("button", { name: "Add model" }).first().click();
    const add = page.getByRole("dialog", { name: "Add model" });
    await add.getByLabel("Model id").fill("no spaces allowed");
    await add.getByLabel("Upstream model").fill("gpt-4o-mini");
    await add.getByLabel("Input USD / 1M").fill("cheap");
    await add.getByLabel("Output USD / 1M").fill("-1");
    await add.getByRole("button", { name: "Add model" }).click();
    await add.getByText(/^Must be a model id/).waitFor();
    expect(await add.getByRole("alert").count()).toBe(3);
    await add.getByRole("button", { name: "Cancel" }).click();
    expect((await seed.api.models.list.query({ projectId, limit: 100 })).items).toEqual(before);

    const mini = page
      .getByRole("row")
      .filter({ has: page.getByRole("cell", { name: "fake-mini" }) });
    const big = page.getByRole("row").filter({ has: page.getByRole("cell", { name: "fake-big" }) });
    // backend and batch reach every model; frontend's allow list names fake-mini only.
    await mini.getByText("3 keys").waitFor();
    await big.getByText("2 keys").waitFor();

    await page.getByRole("button", { name: "Edit model fake-mini" }).click();
    const edit = page.getByRole("dialog", { name: "Edit model fake-mini" });
    expect(await edit.getByLabel("Output USD / 1M").inputValue()).toBe("0.6");
    await edit.getByLabel("Output USD / 1M").fill("1.25");
    await edit.getByRole("button", { name: "Save model" }).click();
    await edit.waitFor({ state: "detached" });
    await mini.getByText("$1.25").waitFor();
    const saved = (await seed.api.models.list.query({ projectId, limit: 100 })).items.find(
      (m) => m.id === "fake-mini",
    );
    expect(saved!.outputUsdPer1M).toBe("1.25");
    expect(saved!.inputUsdPer1M).toBe("0.15");
  });

  it("deactivates a model from the keyboard: the gateway answers it as not found, until reactivated", async () => {
    await page.goto(url("/catalog"));
    await settled(page);
    const toggle = page.getByRole("switch", { name: "fake-big active" });
    await toggle.focus();
    await page.keyboard.press("Space");
    await expect
      .poll(
        async () =>
          (await seed.api.models.list.query({ projectId, limit: 100 })).items.find(
            (m) => m.id === "fake-big",
          )?.active,
        wait,
      )
      .toBe(false);
    expect(
      await eventually(
        () => status(stack, keys.a.secret, "fake-big"),
        (s) => s !== 200,
      ),
    ).toBe("404 model_not_found");
    await toggle.click();
    expect(
      await eventually(
        () => status(stack, keys.a.secret, "fake-big"),
        (s) => s === 200,
      ),
    ).toBe(200);
  });

  it("imports the default price list for a provider", async () => {
    await page.goto(url("/catalog"));
    await settled(page);
    await page.getByRole("button", { name: "Import defaults" }).click();
    await page.getByText("Imported the default price list for fake.").waitFor();
    const models = (await seed.api.models.list.query({ projectId, limit: 100 })).items;
    expect(models.length).toBeGreaterThan(2);
    const imported = models.find((m) => m.id !== "fake-mini" && m.id !== "fake-big")!;
    await page.getByRole("cell", { name: imported.id, exact: true }).waitFor();
  });
});

/** A table's body rows as their cells' text. */
function tableRows(name: string): Promise<string[][]> {
  return page
    .getByRole("table", { name })
    .locator("tbody tr")
    .evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent?.trim() ?? "")),
    );
}

/** The API's hourly series for the last 24 h, summed per series as the usage page shows them. */
async function apiTotals(groupBy: "model" | "key" | "provider", keyIds?: string[]) {
  const from = new Date(Math.floor(Date.now() / 3600_000) * 3600_000 - 23 * 3600_000);
  const { points } = await seed.api.usage.timeseries.query({
    projectId,
    bucket: "hour",
    from,
    groupBy,
    keyIds,
  });
  const labels = new Map(
    (await seed.api.keys.list.query({ projectId, limit: 100 })).items.map((k) => [k.id, k.label]),
  );
  const by = new Map<string, { requests: number; tokens: number; nanos: bigint }>();
  for (const p of points) {
    const t = by.get(p.series) ?? { requests: 0, tokens: 0, nanos: 0n };
    t.requests += p.requests;
    t.tokens += p.inputTokens + p.outputTokens;
    t.nanos += parseUsd(p.costUsd)!;
    by.set(p.series, t);
  }
  const rows = [...by.entries()]
    .sort(([, a], [, b]) => (a.nanos < b.nanos ? 1 : a.nanos > b.nanos ? -1 : 0))
    .map(([s, t]) => [
      groupBy === "key" ? (labels.get(s) ?? s) : s,
      t.requests.toLocaleString("en-US"),
      t.tokens.toLocaleString("en-US"),
      formatMoney(formatUsd(t.nanos)),
    ]);
  return { points, labels, rows };
}

describe("usage", () => {
  it("stacks by model, key or provider with totals equal to the API's rollups, range and metric in the URL", async () => {
    await page.goto(url("/usage?range=24h"));
    await settled(page);
    const expected = await apiTotals("model");
    expect(expected.rows.length).toBe(2);
    await expect.poll(() => tableRows("Totals by model"), wait).toEqual(expected.rows);
    await capture(page, "usage");

    const stackBy = page.getByRole("radiogroup", { name: "Stack by" });
    await stackBy.getByRole("radio", { name: "Key" }).click();
    await expect.poll(() => search().get("groupBy"), wait).toBe("key");
    const byKey = await apiTotals("key");
    expect(byKey.rows.map((r) => r[0])).toContain("batch");
    await expect.poll(() => tableRows("Totals by key"), wait).toEqual(byKey.rows);

    await stackBy.getByRole("radio", { name: "Provider" }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => search().get("groupBy"), wait).toBe("provider");
    await expect
      .poll(() => tableRows("Totals by provider"), wait)
      .toEqual((await apiTotals("provider")).rows);

    await page
      .getByRole("radiogroup", { name: "Metric" })
      .getByRole("radio", { name: "Tokens" })
      .click();
    await page.getByRole("figure", { name: "tokens stacked by provider" }).waitFor();
    await page
      .getByRole("radiogroup", { name: "Range" })
      .getByRole("radio", { name: "30d" })
      .click();
    await expect.poll(() => search().get("range"), wait).toBe("30d");
    await page.reload();
    await settled(page);
    const checked = (group: string, name: string) =>
      page
        .getByRole("radiogroup", { name: group })
        .getByRole("radio", { name })
        .getAttribute("aria-checked");
    expect(await checked("Range", "30d")).toBe("true");
    expect(await checked("Metric", "Tokens")).toBe("true");
    expect(await checked("Stack by", "Provider")).toBe("true");
  });

  it("compares chosen keys and exports them as CSV with the API's decimal-string money", async () => {
    await page.goto(url("/usage?range=24h"));
    await settled(page);
    await page.getByLabel("backend", { exact: true }).check();
    await page.getByLabel("frontend", { exact: true }).check();
    await expect
      .poll(() => JSON.parse(search().get("keys") ?? "[]"), wait)
      .toEqual([keys.a.id, keys.b.id]);
    const expected = await apiTotals("key", [keys.a.id, keys.b.id]);
    await expect.poll(() => tableRows("Totals by key"), wait).toEqual(expected.rows);
    expect(expected.rows.map((r) => r[0]).sort()).toEqual(["backend", "frontend"]);

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export CSV" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("osm-usage-24h-keys.csv");
    const text = await readFile((await download.path())!, "utf8");
    const [header, ...lines] = text.trimEnd().split("\n");
    expect(header).toBe("bucket_start,series,requests,input_tokens,output_tokens,cost_usd");
    expect(lines).toEqual(
      expected.points.map((p) =>
        [
          p.bucketStart.toISOString(),
          expected.labels.get(p.series),
          p.requests,
          p.inputTokens,
          p.outputTokens,
          p.costUsd,
        ].join(","),
      ),
    );
    for (const line of lines) expect(line.split(",")[5]).toMatch(/^\d+(\.\d+)?$/);
  });

  it("shows an empty state for a key without usage, and an error for a key id the API refuses", async () => {
    const idle = await seed.api.keys.create.mutate({ projectId, label: "idle" });
    await page.goto(
      url(`/usage?range=24h&keys=${encodeURIComponent(JSON.stringify([idle.key.id]))}`),
    );
    await page.getByText("No usage in this range").waitFor();
    await page.goto(url(`/usage?keys=${encodeURIComponent(JSON.stringify(["k".repeat(65)]))}`));
    const error = page.getByRole("alert").filter({ hasText: "Something went wrong" });
    await error.waitFor();
    await seed.api.keys.revoke.mutate({ id: idle.key.id });
  });
});

/** Invites someone and accepts as them: their signed-in API client. */
async function join(email: string, role: "viewer" | "member") {
  const { inviteUrl } = await seed.api.members.invite.mutate({ projectId, email, role });
  const token = new URL(inviteUrl).hash.replace("#token=", "");
  const api = apiClient(dash.base, { cookies: new Map() });
  await api.auth.acceptInvite.mutate({ token, password });
  return api;
}

describe("settings", () => {
  it("changes a member's role and removes them; the last owner cannot be demoted or removed", async () => {
    await join("dev@example.com", "member");
    const members = async () =>
      Object.fromEntries(
        (await seed.api.members.list.query({ projectId })).items.map((m) => [m.email, m.role]),
      );

    await page.goto(url("/settings"));
    await settled(page);
    await capture(page, "settings-members");
    await page.getByLabel("Role of dev@example.com").selectOption("admin");
    await page.getByText("dev@example.com is now admin.").waitFor();
    expect(await members()).toEqual({ [owner]: "owner", "dev@example.com": "admin" });

    await page.getByLabel(`Role of ${owner}`).selectOption("member");
    await page.getByText("A project keeps at least one owner.").waitFor();
    expect(await page.getByLabel(`Role of ${owner}`).inputValue()).toBe("owner");
    await page.getByRole("button", { name: `Remove ${owner}` }).click();
    await expect
      .poll(() => page.getByText("A project keeps at least one owner.").count(), wait)
      .toBeGreaterThan(0);
    expect((await members())[owner]).toBe("owner");

    const remove = page.getByRole("button", { name: "Remove dev@example.com" });
    await remove.focus();
    await page.keyboard.press("Enter");
    await page.getByText("dev@example.com removed.").waitFor();
    expect(await members()).toEqual({ [owner]: "owner" });
    await expect.poll(() => page.getByLabel("Role of dev@example.com").count(), wait).toBe(0);
  });

  it("creates a management token (one-time reveal) that works as a Bearer on the API until revoked", async () => {
    await page.goto(url("/settings?tab=tokens"));
    await settled(page);
    await page.getByText("No tokens").waitFor();
    await page.getByRole("button", { name: "Create token" }).click();
    await page.getByText("Give the token a label").waitFor();
    expect((await seed.api.tokens.list.query({ projectId })).items).toEqual([]);

    await page.getByLabel("Label").fill("ci");
    await page.getByRole("button", { name: "Create token" }).click();
    const secret = (await page.getByTestId("secret").textContent())!;
    expect(secret.length).toBeGreaterThan(20);
    const bearer = apiClient(dash.base, { bearer: secret });
    const listed = await bearer.keys.list.query({ projectId, limit: 10 });
    expect(listed.items.length).toBeGreaterThan(0);
    await page.getByLabel("I have saved this secret").check();
    await page.getByRole("button", { name: "Done" }).click();
    const row = page.getByRole("row").filter({ hasText: "ci" });
    await row.getByText("active").waitFor();
    expect(await page.content()).not.toContain(secret);
    await capture(page, "settings-tokens");

    await page.getByRole("button", { name: "Revoke ci" }).click();
    await row.getByText("revoked").waitFor();
    await expect(bearer.keys.list.query({ projectId, limit: 10 })).rejects.toMatchObject({
      data: { httpStatus: 401 },
    });
  });

  it("sets the alert webhook to a local receiver, which gets a test event and the signed alert; the deliveries list shows it", async () => {
    const received: { headers: IncomingHttpHeaders; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/osm`;
    try {
      await page.goto(url("/settings?tab=alerts"));
      await settled(page);
      await page.getByText("No deliveries yet").waitFor();
      await page.getByLabel("Webhook URL").fill("ftp://nowhere");
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByText(/^url /).waitFor();
      expect(await seed.api.alerts.get.query({ projectId })).toBeNull();

      await page.getByLabel("Webhook URL").fill(hook);
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByTestId("secret").waitFor();
      await page.getByLabel("I have saved this secret").check();
      await page.getByRole("button", { name: "Done" }).click();
      await page.getByText(hook).waitFor();
      expect((await seed.api.alerts.get.query({ projectId }))?.url).toBe(hook);

      // "Send test event": the receiver gets a signed test event, the page says it was delivered.
      await page.getByRole("button", { name: "Send test event" }).click();
      await page
        .getByTestId("webhook-test")
        .getByText(/^Delivered · \d+ ms$/)
        .waitFor();
      expect(received).toHaveLength(1);
      expect(received[0]!.headers["osm-event"]).toBe("alert.test");
      expect(received[0]!.headers["osm-signature"]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      received.length = 0;

      // A real alert: a key with a tiny limit spends past it.
      const tiny = await seed.api.keys.create.mutate({
        projectId,
        label: "tiny",
        spendLimitUsd: "0.001",
      });
      await chat(stack, tiny.secret, "fake-big");
      await chat(stack, tiny.secret, "fake-big").catch(() => {});
      await eventually(
        async () => received.length,
        (n) => n > 0,
      );
      expect(received[0]!.body).toContain(tiny.key.id);
      const table = page.getByRole("table", { name: "Alert deliveries" });
      await table.getByText("delivered").first().waitFor({ timeout: 20_000 });
      const delivered = (await seed.api.alerts.deliveries.query({ projectId })).items;
      expect(delivered.some((d) => d.keyId === tiny.key.id && d.status === "delivered")).toBe(true);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });

  it("filters the audit log by action", async () => {
    await page.goto(url("/settings?tab=audit"));
    await settled(page);
    await page.getByLabel("Action").selectOption({ label: "Tokens" });
    const api = (await seed.api.audit.list.query({ projectId, action: "token.", limit: 100 }))
      .items;
    expect(api.map((a) => a.action).sort()).toEqual(["token.create", "token.revoke"]);
    await expect
      .poll(async () => (await tableRows("Audit log")).map((r) => r[2]).sort(), wait)
      .toEqual(["token.create", "token.revoke"]);
    await page.getByLabel("Action").selectOption({ label: "Members" });
    await expect
      .poll(
        async () => (await tableRows("Audit log")).every((r) => r[2]!.startsWith("member.")),
        wait,
      )
      .toBe(true);
  });
});

/** Midnight of today and the 1st of this month in the viewer's zone (India has no DST). */
function kolkataStarts() {
  const shift = 5.5 * 3600_000;
  const local = new Date(Date.now() + shift);
  const day = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()) - shift;
  const month = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), 1) - shift;
  return { day: new Date(day), month: new Date(month) };
}

describe("overview", () => {
  it("shows today's and this month's figures, denials enforced and shadow, top keys and recent alerts as the API counts them", async () => {
    const shadow = await seed.api.keys.create.mutate({
      projectId,
      label: "shadowy",
      policy: { mode: "shadow", models: { allow: ["fake-mini"] } },
    });
    await chat(stack, shadow.secret, "fake-big");
    await eventually(
      () => seed.api.logs.list.query({ projectId, outcome: "shadow_denied", limit: 10 }),
      (p) => p.items.length === 1,
    );
    const { day, month } = kolkataStarts();
    const today = await seed.api.usage.summary.query({ projectId, from: day });
    const period = await seed.api.usage.summary.query({ projectId, from: month });

    await page.goto(url("/"));
    await settled(page);
    const stat = (label: string) => page.locator("section").filter({ hasText: label }).first();
    await stat("Spend today")
      .getByText(formatMoney(today.overall.costUsd), { exact: true })
      .waitFor();
    await stat("Spend today")
      .getByText(`${formatMoney(period.overall.costUsd)} this month`)
      .waitFor();
    await stat("Requests today")
      .getByText(today.overall.requests.toLocaleString("en-US"), { exact: true })
      .waitFor();
    expect(today.overall.denied).toBeGreaterThan(0);
    await stat("Denied today").getByText(String(today.overall.denied), { exact: true }).waitFor();
    await stat("Shadow-denied today").getByText("1", { exact: true }).waitFor();

    const labels = new Map(
      (await seed.api.keys.list.query({ projectId, limit: 100 })).items.map((k) => [k.id, k.label]),
    );
    const top = [...period.byKey]
      .sort((a, b) => Number(parseUsd(b.costUsd)! - parseUsd(a.costUsd)!))
      .slice(0, 5)
      .map((k) => `${labels.get(k.keyId)}${formatMoney(k.costUsd)} · ${k.requests} req`);
    const shown = await page
      .locator("section")
      .filter({ hasText: "Top keys this month" })
      .getByRole("listitem")
      .allTextContents();
    expect(shown).toEqual(top);

    const alerts = page.locator("section").filter({ hasText: "Recent alerts" });
    await alerts
      .getByText(/^tiny reached \d+%$/)
      .first()
      .waitFor();
    await capture(page, "overview");
  });
});

describe("states and roles", () => {
  it("shows a loading state while a list is on its way, and an error with retry for a filter the API refuses", async () => {
    // The real API, only slower: the request waits before it is sent on.
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    await page.route("**/trpc/**logs.list**", async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(url("/logs"));
    await page.getByRole("status").filter({ hasText: "Loading logs" }).waitFor();
    release();
    await page.getByTestId("log-row").first().waitFor();
    await page.unroute("**/trpc/**logs.list**");

    await page.goto(url(`/logs?keyId=${"k".repeat(65)}`));
    const error = page.getByRole("alert").filter({ hasText: "Something went wrong" });
    await error.waitFor();
    await error.getByRole("button", { name: "Try again" }).waitFor();
    await capture(page, "logs-error");
  });

  it("opens a top key from the overview with the keyboard", async () => {
    await page.goto(url("/"));
    await settled(page);
    const link = page
      .locator("section")
      .filter({ hasText: "Top keys this month" })
      .getByRole("link")
      .first();
    const label = await link.textContent();
    await link.focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/keys\/[^/]+$/);
    await page.getByRole("heading", { level: 1, name: label! }).waitFor();
  });

  it("shows a viewer no mutation control on the catalog and settings, and the API refuses them", async () => {
    const viewerApi = await join("viewer@example.com", "viewer");
    const context = await newContext(dash.browser, dash.base, { timezoneId: zone });
    try {
      const viewer = await context.newPage();
      viewer.setDefaultTimeout(10_000);
      await signIn(viewer, dash.base, "viewer@example.com", password);

      await viewer.goto(url("/catalog"));
      await settled(viewer);
      await viewer.getByRole("cell", { name: "fake-mini", exact: true }).waitFor();
      for (const name of [
        "Add provider",
        "Add model",
        "Test connection",
        "Import defaults",
        "Edit",
      ])
        expect(await viewer.getByRole("button", { name }).count(), name).toBe(0);
      expect(await viewer.getByRole("switch").count()).toBe(0);
      await capture(viewer, "catalog-viewer");

      await viewer.goto(url("/settings"));
      await settled(viewer);
      await viewer.getByRole("cell", { name: owner }).waitFor();
      expect(await viewer.getByRole("combobox").count()).toBe(0);
      expect(await viewer.getByRole("button", { name: /^Remove/ }).count()).toBe(0);
      expect(await viewer.getByRole("button", { name: "Invite" }).count()).toBe(0);
      expect(await viewer.getByRole("tab", { name: "Tokens" }).count()).toBe(0);
      expect(await viewer.getByRole("tab", { name: "Alerts" }).count()).toBe(0);
      await viewer.getByRole("tab", { name: "Audit log" }).click();
      await viewer.getByRole("table", { name: "Audit log" }).waitFor();

      await expect(
        viewerApi.models.update.mutate({ projectId, id: "fake-mini", active: false }),
      ).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
      await expect(
        viewerApi.providers.update.mutate({ projectId, id: "fake", baseUrl: "http://x/v1" }),
      ).rejects.toMatchObject({ data: { code: "FORBIDDEN" } });
      const models = (await seed.api.models.list.query({ projectId, limit: 100 })).items;
      expect(models.find((m) => m.id === "fake-mini")?.active).toBe(true);
    } finally {
      await context.close();
    }
  });
});
