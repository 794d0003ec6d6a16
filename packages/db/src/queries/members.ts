import { newId } from "@osm/keys/ids";
import { and, asc, count, desc, eq, gt, isNull, lt } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { nextVersion } from "../schema/columns.ts";
import { invitations, memberships, projects, type Role } from "../schema/projects.ts";
import { users } from "../schema/users.ts";
import { type PageParams, toPage } from "./pagination.ts";

/**
 * Locks the project row for the rest of the transaction: every change to a project's
 * memberships takes it first, so two concurrent changes cannot both read "another owner is
 * left" and together leave none.
 */
export async function lockProjectMemberships(db: DbOrTx, projectId: string) {
  await db
    .select({ id: projects.id })
    .from(projects)
    .where(eq(projects.id, projectId))
    .for("update");
}

export async function findMembershipRole(
  db: DbOrTx,
  projectId: string,
  userId: string,
): Promise<Role | undefined> {
  const [row] = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.projectId, projectId), eq(memberships.userId, userId)));
  return row?.role;
}

export async function listMembers(db: DbOrTx, projectId: string) {
  return db
    .select({
      userId: users.id,
      email: users.email,
      role: memberships.role,
      createdAt: memberships.createdAt,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.projectId, projectId))
    .orderBy(asc(users.email));
}

export async function countOwners(db: DbOrTx, projectId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(memberships)
    .where(and(eq(memberships.projectId, projectId), eq(memberships.role, "owner")));
  return row?.n ?? 0;
}

export async function upsertMembership(db: DbOrTx, projectId: string, userId: string, role: Role) {
  const [row] = await db
    .insert(memberships)
    .values({ projectId, userId, role })
    .onConflictDoUpdate({
      target: [memberships.projectId, memberships.userId],
      set: { role, version: nextVersion },
    })
    .returning();
  return row!;
}

export async function setMembershipRole(db: DbOrTx, projectId: string, userId: string, role: Role) {
  const [row] = await db
    .update(memberships)
    .set({ role, version: nextVersion })
    .where(and(eq(memberships.projectId, projectId), eq(memberships.userId, userId)))
    .returning();
  return row;
}

export async function deleteMembership(db: DbOrTx, projectId: string, userId: string) {
  const [row] = await db
    .delete(memberships)
    .where(and(eq(memberships.projectId, projectId), eq(memberships.userId, userId)))
    .returning();
  return row;
}

export async function insertInvitation(
  db: DbOrTx,
  values: {
    projectId: string;
    email: string;
    role: Role;
    tokenHash: string;
    invitedBy: string | null;
    expiresAt: Date;
  },
) {
  const [row] = await db
    .insert(invitations)
    .values({ id: newId("invite"), ...values, email: values.email.toLowerCase() })
    .returning();
  return row!;
}

export async function findOpenInvitation(db: DbOrTx, tokenHash: string, now: Date) {
  const [row] = await db
    .select()
    .from(invitations)
    .where(
      and(
        eq(invitations.tokenHash, tokenHash),
        isNull(invitations.acceptedAt),
        gt(invitations.expiresAt, now),
      ),
    );
  return row;
}

export async function markInvitationAccepted(db: DbOrTx, id: string, now: Date) {
  await db.update(invitations).set({ acceptedAt: now }).where(eq(invitations.id, id));
}

/** The projects a person belongs to, with their role: what `auth.me` shows. */
export async function listMemberships(db: DbOrTx, userId: string) {
  return db
    .select({ id: projects.id, name: projects.name, role: memberships.role })
    .from(memberships)
    .innerJoin(projects, eq(projects.id, memberships.projectId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(projects.name));
}

const openInvitation = (now: Date) =>
  and(isNull(invitations.acceptedAt), gt(invitations.expiresAt, now));

/** A project's open invitations (not accepted, not expired), newest first. */
export async function listOpenInvitations(
  db: DbOrTx,
  projectId: string,
  page: PageParams,
  now: Date,
) {
  const rows = await db
    .select({
      id: invitations.id,
      email: invitations.email,
      role: invitations.role,
      invitedBy: invitations.invitedBy,
      expiresAt: invitations.expiresAt,
      createdAt: invitations.createdAt,
    })
    .from(invitations)
    .where(
      and(
        eq(invitations.projectId, projectId),
        openInvitation(now),
        page.cursor ? lt(invitations.id, page.cursor) : undefined,
      ),
    )
    .orderBy(desc(invitations.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit);
}

export async function findInvitation(db: DbOrTx, id: string) {
  const [row] = await db.select().from(invitations).where(eq(invitations.id, id));
  return row;
}

/** Deletes an open invitation: its link stops working. Undefined when it was not open. */
export async function deleteOpenInvitation(db: DbOrTx, id: string, now: Date) {
  const [row] = await db
    .delete(invitations)
    .where(and(eq(invitations.id, id), openInvitation(now)))
    .returning({ id: invitations.id });
  return row;
}

/** Deletes the open invitations a person sent in a project; returns their ids. */
export async function deleteOpenInvitationsFrom(
  db: DbOrTx,
  projectId: string,
  userId: string,
  now: Date,
) {
  const rows = await db
    .delete(invitations)
    .where(
      and(
        eq(invitations.projectId, projectId),
        eq(invitations.invitedBy, userId),
        openInvitation(now),
      ),
    )
    .returning({ id: invitations.id });
  return rows.map((r) => r.id);
}
