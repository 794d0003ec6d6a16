import { createRootRoute, createRoute, createRouter, Outlet } from "@tanstack/react-router";
import { Toaster } from "sonner";
import { z } from "zod";
import {
  AccountPage,
  HomePage,
  InvitePage,
  LoginPage,
  ProjectsPage,
  SetupPage,
} from "./pages/access.tsx";
import { CatalogPage } from "./pages/catalog.tsx";
import { KeyDetailPage } from "./pages/key-detail.tsx";
import { KeysPage } from "./pages/keys.tsx";
import { LogsPage } from "./pages/logs.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { PolicyPage } from "./pages/policy.tsx";
import { SettingsPage } from "./pages/settings.tsx";
import { ProjectShell } from "./pages/shell.tsx";
import { UsagePage } from "./pages/usage.tsx";

const rootRoute = createRootRoute({
  component: () => (
    <>
      <Outlet />
      <Toaster closeButton position="bottom-right" />
    </>
  ),
});

const home = createRoute({ getParentRoute: () => rootRoute, path: "/", component: HomePage });
const setup = createRoute({
  getParentRoute: () => rootRoute,
  path: "/setup",
  component: SetupPage,
});
const login = createRoute({
  getParentRoute: () => rootRoute,
  path: "/login",
  component: LoginPage,
});
const invite = createRoute({
  getParentRoute: () => rootRoute,
  path: "/invite",
  component: InvitePage,
});
const account = createRoute({
  getParentRoute: () => rootRoute,
  path: "/account",
  component: AccountPage,
});
const projects = createRoute({
  getParentRoute: () => rootRoute,
  path: "/projects",
  component: ProjectsPage,
});

export const projectRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/projects/$projectId",
  component: ProjectShell,
});

const overview = createRoute({
  getParentRoute: () => projectRoute,
  path: "/",
  component: OverviewPage,
});

export const keysSearch = z.object({
  q: z.string().optional(),
  status: z.enum(["active", "inactive", "limit_reached", "revoked", "expired"]).optional(),
  limitState: z.enum(["none", "limited", "near", "reached"]).optional(),
  sort: z.enum(["created", "spend", "lastUsed", "expiry"]).optional(),
  page: z.string().optional(),
  create: z.boolean().optional(),
});
export const keysRoute = createRoute({
  getParentRoute: () => projectRoute,
  path: "/keys",
  validateSearch: keysSearch,
  component: KeysPage,
});

export const ranges = ["24h", "7d", "30d", "90d"] as const;
export const keyDetailRoute = createRoute({
  getParentRoute: () => projectRoute,
  path: "/keys/$keyId",
  validateSearch: z.object({ range: z.enum(ranges).optional() }),
  component: KeyDetailPage,
});

export const policyRoute = createRoute({
  getParentRoute: () => projectRoute,
  path: "/keys/$keyId/policy",
  component: PolicyPage,
});

export const logsSearch = z.object({
  keyId: z.string().optional(),
  outcome: z.enum(["allowed", "denied", "error", "shadow_denied"]).optional(),
  code: z.string().optional(),
  model: z.string().optional(),
  range: z.enum(ranges).optional(),
  request: z.string().optional(),
});
export const logsRoute = createRoute({
  getParentRoute: () => projectRoute,
  path: "/logs",
  validateSearch: logsSearch,
  component: LogsPage,
});

export const usageRoute = createRoute({
  getParentRoute: () => projectRoute,
  path: "/usage",
  validateSearch: z.object({
    range: z.enum(ranges).optional(),
    groupBy: z.enum(["model", "key", "provider"]).optional(),
    metric: z.enum(["cost", "requests", "tokens"]).optional(),
    keys: z.array(z.string()).optional(),
  }),
  component: UsagePage,
});

const catalog = createRoute({
  getParentRoute: () => projectRoute,
  path: "/catalog",
  component: CatalogPage,
});

export const settingsRoute = createRoute({
  getParentRoute: () => projectRoute,
  path: "/settings",
  validateSearch: z.object({
    tab: z.enum(["members", "tokens", "alerts", "audit"]).optional(),
    action: z.string().optional(),
  }),
  component: SettingsPage,
});

const routeTree = rootRoute.addChildren([
  home,
  setup,
  login,
  invite,
  account,
  projects,
  projectRoute.addChildren([
    overview,
    keysRoute,
    keyDetailRoute,
    policyRoute,
    logsRoute,
    usageRoute,
    catalog,
    settingsRoute,
  ]),
]);

export const router = createRouter({ routeTree, defaultPreload: "intent" });

declare module "@tanstack/react-router" {
  interface Register {
    router: typeof router;
  }
}
