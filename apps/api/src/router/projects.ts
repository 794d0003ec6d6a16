import { z } from "zod";
import {
  createProject,
  deleteProject,
  listVisibleProjects,
  projectById,
  renameProject,
  showProject,
} from "../domain/projects.ts";
import { idSchema, pageInput } from "../inputs.ts";
import { authedProcedure, projectProcedure, router } from "../trpc.ts";

const nameSchema = z.string().trim().min(1, "must not be empty").max(100);
const byId = z.strictObject({ id: idSchema });

export const projectsRouter = router({
  list: authedProcedure
    .input(z.strictObject({ ...pageInput }).default({ limit: 50 }))
    .query(({ ctx, input }) => listVisibleProjects(ctx, input)),

  get: projectProcedure("viewer", byId, projectById).query(({ ctx }) => showProject(ctx)),

  create: authedProcedure
    .input(z.strictObject({ name: nameSchema, copyCatalogFrom: idSchema.optional() }))
    .mutation(({ ctx, input }) => createProject(ctx, input)),

  update: projectProcedure(
    "owner",
    z.strictObject({ id: idSchema, name: nameSchema }),
    projectById,
  ).mutation(({ ctx, input }) => renameProject(ctx, input.name)),

  delete: projectProcedure("owner", byId, projectById).mutation(({ ctx }) => deleteProject(ctx)),
});
