import type { AppRouter } from "@osm/api/router";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useTRPC } from "./trpc.ts";

export type Outputs = inferRouterOutputs<AppRouter>;
export type Role = "viewer" | "member" | "admin" | "owner";
const rank: Record<Role, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };

export function useMe() {
  const trpc = useTRPC();
  return useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: 60_000 }));
}

/** The caller's role in a project and what it lets them do; the API enforces the same rules. */
export function useProjectRole(projectId: string) {
  const trpc = useTRPC();
  const project = useQuery(trpc.projects.get.queryOptions({ id: projectId }));
  const role = (project.data?.role ?? "viewer") as Role;
  return {
    project,
    role,
    canWrite: rank[role] >= rank.member,
    isAdmin: rank[role] >= rank.admin,
    isOwner: role === "owner",
  };
}
