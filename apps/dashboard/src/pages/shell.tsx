import { useQuery, useQueryClient } from "@tanstack/react-query";
import {
  Link,
  Navigate,
  Outlet,
  useLocation,
  useNavigate,
  useParams,
} from "@tanstack/react-router";
import {
  BarChart3,
  BookOpen,
  ChevronsUpDown,
  KeyRound,
  LayoutDashboard,
  LogOut,
  Plus,
  ScrollText,
  Settings,
  UserRound,
} from "lucide-react";
import { Badge } from "../components/ui/badge.tsx";
import { Button } from "../components/ui/button.tsx";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuLabel,
  DropdownMenuSeparator,
  DropdownMenuTrigger,
} from "../components/ui/controls.tsx";
import { ErrorState, Loading } from "../components/ui/states.tsx";
import { useMe, useProjectRole } from "../lib/session.ts";
import { trpcClient, useTRPC } from "../lib/trpc.ts";

const nav = [
  { to: "/projects/$projectId", label: "Overview", icon: LayoutDashboard, exact: true },
  { to: "/projects/$projectId/keys", label: "API keys", icon: KeyRound },
  { to: "/projects/$projectId/logs", label: "Logs", icon: ScrollText },
  { to: "/projects/$projectId/usage", label: "Usage", icon: BarChart3 },
  { to: "/projects/$projectId/catalog", label: "Catalog", icon: BookOpen },
  { to: "/projects/$projectId/settings", label: "Settings", icon: Settings },
] as const;

function ProjectSwitcher({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const navigate = useNavigate();
  const projects = useQuery(trpc.projects.list.queryOptions({ limit: 50 }));
  const current = projects.data?.items.find((p) => p.id === projectId);
  // Switching keeps the section (keys stay keys); a key or request id belongs to the old project.
  const section = useLocation({ select: (l) => l.pathname.split("/")[3] });
  const to = nav.find((n) => n.to === `/projects/$projectId/${section}`)?.to ?? nav[0].to;
  return (
    <DropdownMenu>
      <DropdownMenuTrigger asChild>
        <Button
          variant="outline"
          className="w-full justify-between"
          aria-label={`Project: ${current?.name ?? ""}. Switch project`}
        >
          <span className="truncate">{current?.name ?? "Project"}</span>
          <ChevronsUpDown aria-hidden="true" className="opacity-60" />
        </Button>
      </DropdownMenuTrigger>
      <DropdownMenuContent align="start">
        <DropdownMenuLabel>Projects</DropdownMenuLabel>
        {projects.data?.items.map((p) => (
          <DropdownMenuItem
            key={p.id}
            onSelect={() => navigate({ to, params: { projectId: p.id } })}
          >
            {p.name}
          </DropdownMenuItem>
        ))}
        <DropdownMenuSeparator />
        <DropdownMenuItem onSelect={() => navigate({ to: "/projects" })}>
          <Plus aria-hidden="true" className="size-4" /> New project
        </DropdownMenuItem>
      </DropdownMenuContent>
    </DropdownMenu>
  );
}

function UserMenu() {
  const me = useMe();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const actor = me.data?.actor;
  const name =
    actor?.type === "user"
      ? actor.email
      : actor?.type === "token"
        ? "Management token"
        : "Master key";
  async function logout() {
    await trpcClient.auth.logout.mutate();
    queryClient.clear();
    await navigate({ to: "/login" });
  }
  return (
    <DropdownMenu>
      <DropdownMenuTrigger asChild>
        <Button variant="ghost" className="w-full justify-start" aria-label={`Account: ${name}`}>
          <UserRound aria-hidden="true" />
          <span className="truncate">{name}</span>
        </Button>
      </DropdownMenuTrigger>
      <DropdownMenuContent align="start">
        {actor?.type === "user" ? (
          <DropdownMenuItem onSelect={() => navigate({ to: "/account" })}>
            Change password
          </DropdownMenuItem>
        ) : null}
        <DropdownMenuItem onSelect={logout}>
          <LogOut aria-hidden="true" className="size-4" /> Sign out
        </DropdownMenuItem>
      </DropdownMenuContent>
    </DropdownMenu>
  );
}

export function ProjectShell() {
  const { projectId } = useParams({ from: "/projects/$projectId" });
  const me = useMe();
  const { project, role } = useProjectRole(projectId);
  if (me.isPending) return <Loading label="Checking your session" />;
  if (!me.data?.actor) return <Navigate to="/login" />;
  return (
    <div className="min-h-screen md:grid md:grid-cols-[15rem_1fr]">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-card focus:px-3 focus:py-2"
      >
        Skip to content
      </a>
      <aside className="border-b bg-card md:sticky md:top-0 md:h-screen md:border-b-0 md:border-r">
        <div className="flex items-center gap-2 px-4 py-3 font-semibold">
          <span className="flex size-7 items-center justify-center rounded-md bg-primary text-primary-foreground">
            <KeyRound className="size-4" aria-hidden="true" />
          </span>
          osm
          <Badge className="ml-auto" tone="neutral">
            {role}
          </Badge>
        </div>
        <div className="px-3 pb-2">
          <ProjectSwitcher projectId={projectId} />
        </div>
        <nav aria-label="Project" className="overflow-x-auto px-2 pb-2 md:pb-0">
          <ul className="flex gap-1 md:flex-col">
            {nav.map((item) => (
              <li key={item.to}>
                <Link
                  to={item.to}
                  params={{ projectId }}
                  activeOptions={{ exact: "exact" in item }}
                  className="flex items-center gap-2 whitespace-nowrap rounded-md px-3 py-2 text-sm text-muted-foreground hover:bg-muted hover:text-foreground data-[status=active]:bg-accent data-[status=active]:font-medium data-[status=active]:text-primary"
                >
                  <item.icon className="size-4" aria-hidden="true" />
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="hidden px-3 md:absolute md:bottom-3 md:block md:w-60">
          <UserMenu />
        </div>
        <div className="px-3 pb-2 md:hidden">
          <UserMenu />
        </div>
      </aside>
      <main id="main" className="min-w-0 p-4 md:p-8">
        {project.isError ? (
          <ErrorState error={project.error} retry={() => project.refetch()} />
        ) : (
          <Outlet />
        )}
      </main>
    </div>
  );
}
