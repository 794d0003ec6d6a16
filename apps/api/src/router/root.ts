import { router } from "../trpc.ts";
import { alertsRouter } from "./alerts.ts";
import { auditRouter } from "./audit.ts";
import { authRouter } from "./auth.ts";
import { keysRouter } from "./keys.ts";
import { logsRouter } from "./logs.ts";
import { membersRouter } from "./members.ts";
import { modelsRouter } from "./models.ts";
import { policyRouter } from "./policy.ts";
import { projectsRouter } from "./projects.ts";
import { providersRouter } from "./providers.ts";
import { tokensRouter } from "./tokens.ts";
import { usageRouter } from "./usage.ts";

export const appRouter = router({
  auth: authRouter,
  projects: projectsRouter,
  members: membersRouter,
  providers: providersRouter,
  models: modelsRouter,
  keys: keysRouter,
  policy: policyRouter,
  usage: usageRouter,
  logs: logsRouter,
  tokens: tokensRouter,
  alerts: alertsRouter,
  audit: auditRouter,
});

/** The single source of truth for every shape the management API speaks. */
export type AppRouter = typeof appRouter;
