// The schema as drizzle-kit and the query builder see it: every aggregate's tables.
export * from "./alerts.ts";
export * from "./audit.ts";
export * from "./catalog.ts";
export { changeVersion, nextVersion } from "./columns.ts";
export * from "./instance.ts";
export * from "./keys.ts";
export * from "./projects.ts";
export * from "./usage.ts";
export * from "./users.ts";
