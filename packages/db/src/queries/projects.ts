import { newId } from "@osm/keys/ids";
import { and, desc, eq, inArray, lt } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { models, providers } from "../schema/catalog.ts";
import { nextVersion } from "../schema/columns.ts";
import { memberships, projects } from "../schema/projects.ts";
import { type PageParams, toPage } from "./pagination.ts";

export type ProjectScope = { all: true } | { projectIds: string[] } | { userId: string };

export async function listProjects(db: DbOrTx, scope: ProjectScope, page: PageParams) {
  const cursor = page.cursor ? lt(projects.id, page.cursor) : undefined;
  const base = db.select({ project: projects }).from(projects);
  const query =
    "userId" in scope
      ? base
          .innerJoin(memberships, eq(memberships.projectId, projects.id))
          .where(and(eq(memberships.userId, scope.userId), cursor))
      : "projectIds" in scope
        ? base.where(and(inArray(projects.id, scope.projectIds), cursor))
        : base.where(cursor);
  const rows = await query.orderBy(desc(projects.id)).limit(page.limit + 1);
  return toPage(
    rows.map((r) => r.project),
    page.limit,
  );
}

export async function findProject(db: DbOrTx, id: string) {
  const [row] = await db.select().from(projects).where(eq(projects.id, id));
  return row;
}

export async function insertProject(db: DbOrTx, name: string) {
  const [row] = await db
    .insert(projects)
    .values({ id: newId("project"), name })
    .returning();
  return row!;
}

export async function updateProject(db: DbOrTx, id: string, values: { name?: string }, now: Date) {
  const [row] = await db
    .update(projects)
    .set({ ...values, updatedAt: now, version: nextVersion })
    .where(eq(projects.id, id))
    .returning();
  return row;
}

export async function deleteProject(db: DbOrTx, id: string) {
  // Models reference providers with RESTRICT; the project's catalog goes first.
  await db.delete(models).where(eq(models.projectId, id));
  await db.delete(providers).where(eq(providers.projectId, id));
  const [row] = await db.delete(projects).where(eq(projects.id, id)).returning();
  return row;
}
