import { findMembershipRole } from "@osm/db/queries/members";
import { findProject } from "@osm/db/queries/projects";
import type { Role } from "@osm/db/schema";
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError, ZodRealError, type z } from "zod";
import type { Context } from "./context.ts";

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  // Never stack traces to clients, whatever NODE_ENV says.
  isDev: false,
  errorFormatter({ shape, error, ctx }) {
    const zod = error.cause instanceof ZodError ? error.cause : null;
    const internal = error.code === "INTERNAL_SERVER_ERROR";
    const { stack: _stack, ...data } = shape.data as typeof shape.data & { stack?: string };
    return {
      ...shape,
      // An internal error's message may quote SQL and its parameters: the client gets the
      // request id instead, and the log has the details under it.
      message: internal
        ? `Internal error${ctx ? ` (request id ${ctx.requestId})` : ""}.`
        : shape.message,
      data: {
        ...data,
        // Which fields were wrong, so clients and forms can point at them. An unknown field is
        // reported at its own path (zod puts it at the enclosing object's).
        fields:
          zod?.issues.flatMap((i) =>
            i.code === "unrecognized_keys"
              ? i.keys.map((k) => ({ path: [...i.path, k].join("."), message: i.message }))
              : [{ path: i.path.join("."), message: i.message }],
          ) ?? null,
      },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

export const publicProcedure = t.procedure;

export const authedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.actor) {
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message: ctx.invalidCredentials ? "Invalid credentials." : "Sign in first.",
    });
  }
  return next({ ctx: { ...ctx, actor: ctx.actor } });
});

export const userProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.actor.type !== "user") {
    throw new TRPCError({ code: "FORBIDDEN", message: "This action needs a signed-in person." });
  }
  return next({ ctx: { ...ctx, actor: ctx.actor } });
});

export const roleRank: Record<Role, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };

export type AuthedContext = Context & { actor: NonNullable<Context["actor"]> };

/**
 * The caller's role in a project, or NOT_FOUND when they are not part of it (a project they
 * cannot see must be indistinguishable from one that does not exist).
 */
export async function projectRole(ctx: AuthedContext, projectId: string): Promise<Role> {
  const actor = ctx.actor;
  if (actor.type === "master") {
    // The master key is the owner of every project that exists, and of no other.
    if (await findProject(ctx.db, projectId)) return "owner";
  } else if (actor.type === "token") {
    if (actor.projectId === projectId) return actor.role;
  } else {
    const role = await findMembershipRole(ctx.db, projectId, actor.userId);
    if (role) return role;
  }
  throw new TRPCError({ code: "NOT_FOUND", message: "Project not found." });
}

/** Requires at least `minimum` in the project; FORBIDDEN for members whose role is too low. */
export async function requireRole(
  ctx: AuthedContext,
  projectId: string,
  minimum: Role,
): Promise<Role> {
  const role = await projectRole(ctx, projectId);
  if (roleRank[role] < roleRank[minimum]) {
    throw new TRPCError({ code: "FORBIDDEN", message: `This action needs the ${minimum} role.` });
  }
  return role;
}

/** The project a procedure acts in, and the caller's role there. */
export type ProjectAccess = { id: string; role: Role };

/** What a project procedure's handler sees: the caller, their project, and the row the input named. */
export type ProjectContext<T = unknown> = AuthedContext & { project: ProjectAccess; target: T };

/**
 * Finds the project an input acts in: the row it names (key, token, invitation…), which must
 * exist (its own NOT_FOUND comes first, as before), carrying its `projectId`.
 */
export type ProjectLocator<I, T extends { projectId: string }> = (
  ctx: AuthedContext,
  input: I,
) => Promise<T> | T;

/**
 * The project tier: parses the input first (bad input is BAD_REQUEST whoever asks), then
 * resolves the project, requires `minimum` there and hands the handler `ctx.project` and
 * `ctx.target`. Without a locator the input's own `projectId` names the project.
 */
export function projectProcedure<S extends z.ZodType<{ projectId: string }>>(
  minimum: Role,
  input: S,
): ReturnType<typeof projectTier<S, { projectId: string }>>;
export function projectProcedure<S extends z.ZodType, T extends { projectId: string }>(
  minimum: Role,
  input: S,
  locate: ProjectLocator<z.output<S>, T>,
): ReturnType<typeof projectTier<S, T>>;
export function projectProcedure<S extends z.ZodType, T extends { projectId: string }>(
  minimum: Role,
  input: S,
  locate?: ProjectLocator<z.output<S>, T>,
) {
  return projectTier<S, T>(
    minimum,
    input,
    locate ?? ((_ctx, i) => ({ projectId: (i as { projectId: string }).projectId }) as T),
  );
}

function projectTier<S extends z.ZodType, T extends { projectId: string }>(
  minimum: Role,
  input: S,
  locate: ProjectLocator<z.output<S>, T>,
) {
  return authedProcedure.input(input).use(async ({ ctx, input, next }) => {
    const target = await locate(ctx, input as z.output<S>);
    const role = await requireRole(ctx, target.projectId, minimum);
    return next({ ctx: { project: { id: target.projectId, role }, target } });
  });
}

export function notFound(what: string): never {
  throw new TRPCError({ code: "NOT_FOUND", message: `${what} not found.` });
}

/** BAD_REQUEST naming one field, for a rule that spans fields (the zod schema sees one at a time). */
export function fieldError(path: string, message: string): never {
  throw new TRPCError({
    code: "BAD_REQUEST",
    message: `${path} ${message}.`,
    // ZodRealError is the Error subclass that parsing throws: tRPC keeps it as the cause.
    cause: new ZodRealError([{ code: "custom", path: [path], message, input: undefined }]),
  });
}
