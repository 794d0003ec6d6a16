import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import AxeBuilder from "@axe-core/playwright";
import { setupToken } from "@osm/api/setup-token";
import { type ApiClient, apiClient, testSecret } from "@osm/testing/api";
import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import OpenAI from "openai";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { expect } from "vitest";

// What every browser test file needs: the built dashboard served by the real API beside a
// proxy, worker, PostgreSQL, Redis and the fake provider; Debian's Chromium; screenshots and
// axe at both widths; the gateway through the openai SDK; and a seeded project for files that
// test one page rather than the scripted user's whole path.

const here = dirname(fileURLToPath(import.meta.url));
const appDir = resolve(here, "..");
const shots = resolve(appDir, "../../docs/screenshots");
// Only a run that asks for them rewrites the committed screenshots, so CI leaves the tree clean.
const writeShots = process.env.OSM_SCREENSHOTS === "1";

export const password = "correct horse battery staple";
export const owner = "owner@example.com";
export const widths = [1280, 390] as const;

export type Dashboard = {
  stack: GatewayStack;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** The API's origin, which serves the dashboard. */
  base: string;
  close(): Promise<void>;
};

/** Builds the dashboard, starts the stack serving it and opens one Chromium page on it. */
export async function openDashboard(options: ContextOptions = {}): Promise<Dashboard> {
  const outDir = mkdtempSync(join(tmpdir(), "osm-dashboard-"));
  if (writeShots) mkdirSync(shots, { recursive: true });
  // Mode "test" exposes the query cache on window for tests that inspect it (see lib/trpc.ts).
  await build({
    root: appDir,
    mode: "test",
    logLevel: "warn",
    build: { outDir, emptyOutDir: true },
  });
  const stack = await startGatewayStack({}, { dashboardDir: outDir });
  const base = stack.api.url;
  const browser = await launchChromium();
  const context = await newContext(browser, base, options);
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return {
    stack,
    browser,
    context,
    page,
    base,
    async close() {
      await browser.close();
      await stack.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** What a test may choose about the viewer's browser, e.g. their time zone. */
export type ContextOptions = { timezoneId?: string };

/** A fresh browser profile (its own cookies) at desktop width, allowed to use the clipboard. */
export async function newContext(
  browser: Browser,
  base: string,
  options: ContextOptions = {},
): Promise<BrowserContext> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 860 },
    reducedMotion: "reduce",
    acceptDownloads: true,
    ...options,
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  return context;
}

/** Elements that stick out of the viewport sideways, outside any region that scrolls. */
function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const limit = document.documentElement.clientWidth;
    const clipped = (el: Element | null): boolean => {
      for (let e = el; e && e !== document.body; e = e.parentElement) {
        const o = getComputedStyle(e).overflowX;
        if (o === "auto" || o === "scroll" || o === "hidden") return true;
      }
      return false;
    };
    return [...document.body.querySelectorAll("*")]
      .filter((e) => e.getBoundingClientRect().right > limit + 1 && !clipped(e.parentElement))
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].slice(0, 4).join(".")}`);
  });
}

/** Screenshots at both widths and an axe scan with no serious or critical violation. */
export async function capture(page: Page, name: string) {
  for (const width of widths) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 860 });
    // Two frames: the resize has been laid out and the charts have measured their containers.
    await page.evaluate(
      () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))),
    );
    if (writeShots) await page.screenshot({ path: join(shots, `${name}-${width}.png`) });
    // Usable at phone width: the page itself never scrolls sideways (tables scroll in their card).
    expect(await overflowing(page), `${name} at ${width}px: wider than the page`).toEqual([]);
    const results = await new AxeBuilder({ page }).analyze();
    const bad = results.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
    expect(bad, `${name} at ${width}px`).toEqual([]);
  }
  await page.setViewportSize({ width: 1280, height: 860 });
}

/** Waits until the page's loading states are gone (polling queries keep the network busy). */
export async function settled(page: Page) {
  await page.getByRole("heading", { level: 1 }).waitFor();
  await expect.poll(() => page.locator("[data-loading]").count()).toBe(0);
}

/** The gateway, as an app would call it. */
export function gateway(stack: GatewayStack, key: string) {
  return new OpenAI({
    baseURL: `${stack.proxies[0]!.url}/v1`,
    apiKey: key,
    maxRetries: 0,
    timeout: 20_000,
  });
}

export function chat(stack: GatewayStack, key: string, model: string) {
  return gateway(stack, key).chat.completions.create({
    model,
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 16,
  });
}

/** 200, or the refusal as "403 model_not_allowed" (the status alone when there is no code). */
export async function status(
  stack: GatewayStack,
  key: string,
  model: string,
): Promise<number | string> {
  try {
    await chat(stack, key, model);
    return 200;
  } catch (err) {
    const e = err as { status?: number; code?: string };
    return e.code ? `${e.status} ${e.code}` : (e.status ?? String(err));
  }
}

/** The value once it satisfies `done` (proxies apply invalidations asynchronously), or the last. */
export async function eventually<T>(
  attempt: () => Promise<T>,
  done: (value: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await attempt();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export type Seeded = {
  /** The owner's tRPC client, signed in. */
  api: ApiClient;
  projectId: string;
  /** Provider "fake" on the fake provider; models "fake-mini" (paid) and "fake-big" (premium). */
  providerId: "fake";
};

/**
 * Sets up the owner, a project, a provider on the fake provider and two models through the
 * API, and signs the page in as the owner: for test files about one page, which need not
 * repeat the scripted user's setup in the browser.
 */
export async function seedProject(dash: Dashboard, project = "Acme"): Promise<Seeded> {
  const cookies = new Map<string, string>();
  const api = apiClient(dash.base, { cookies });
  // Sign-up starts the owner's session in the client's cookie jar.
  await api.auth.signup.mutate({ setupToken: setupToken(testSecret), email: owner, password });
  const { id: projectId } = await api.projects.create.mutate({ name: project });
  await api.providers.create.mutate({
    projectId,
    id: "fake",
    kind: "openai",
    baseUrl: dash.stack.fake.openaiBaseUrl,
    apiKey: "sk-upstream-secret",
  });
  for (const [id, out, tier] of [
    ["fake-mini", "0.6", "paid"],
    ["fake-big", "60", "premium"],
  ] as const) {
    await api.models.create.mutate({
      projectId,
      id,
      providerId: "fake",
      upstreamModel: "gpt-4o-mini",
      inputUsdPer1M: "0.15",
      outputUsdPer1M: out,
      tier,
    });
  }
  await signIn(dash.page, dash.base);
  return { api, projectId, providerId: "fake" };
}

/** Signs a page in as the owner through the login form. */
export async function signIn(page: Page, base: string, email = owner, pw = password) {
  await page.goto(`${base}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(pw);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
}
