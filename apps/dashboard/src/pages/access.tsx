import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, Navigate, useNavigate } from "@tanstack/react-router";
import { KeyRound, Plus } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { z } from "zod";
import { Button } from "../components/ui/button.tsx";
import { Card, CardContent, CardDescription, CardHeader } from "../components/ui/card.tsx";
import { Field, FormError, Input } from "../components/ui/input.tsx";
import { EmptyState, ErrorState, Loading } from "../components/ui/states.tsx";
import { describedBy, useZodForm } from "../lib/forms.ts";
import { useMe } from "../lib/session.ts";
import { errorMessage, trpcClient, useTRPC } from "../lib/trpc.ts";

const password = z.string().min(10, "Must be at least 10 characters").max(256);
const email = z.email("Enter an email address").max(320);

function AuthFrame({
  title,
  description,
  children,
}: {
  title: string;
  description: string;
  children: React.ReactNode;
}) {
  return (
    <main className="flex min-h-screen items-center justify-center bg-muted/40 p-4">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex items-center justify-center gap-2 text-lg font-semibold">
          <span className="flex size-8 items-center justify-center rounded-lg bg-primary text-primary-foreground">
            <KeyRound className="size-4" aria-hidden="true" />
          </span>
          osm
        </div>
        <Card>
          <CardHeader className="flex-col">
            <h1 className="text-xl font-semibold">{title}</h1>
            <CardDescription>{description}</CardDescription>
          </CardHeader>
          <CardContent>{children}</CardContent>
        </Card>
      </div>
    </main>
  );
}

function useAfterSignIn() {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  return async (to = "/") => {
    // Dropped rather than invalidated: a cached "signed out" answer must not redirect anyone.
    await queryClient.resetQueries();
    await navigate({ to });
  };
}

const setupSchema = z.object({
  email,
  password,
  setupToken: z.string().min(1, "Paste the setup token"),
});

export function SetupPage() {
  const form = useZodForm(setupSchema, {
    defaultValues: { email: "", password: "", setupToken: "" },
  });
  const done = useAfterSignIn();
  const errors = form.formState.errors;
  const submit = form.handleSubmit(async (values) => {
    try {
      await trpcClient.auth.signup.mutate(values);
      toast.success("You are the owner of this instance.");
      await done("/projects");
    } catch (err) {
      form.setError("root", { message: errorMessage(err) });
    }
  });
  return (
    <AuthFrame
      title="Set up osm"
      description="Create the first owner account. The setup token is printed in the terminal by `pnpm start`."
    >
      <form onSubmit={submit} className="grid gap-4" noValidate>
        <Field id="setup-token" label="Setup token" error={errors.setupToken?.message}>
          <Input
            autoComplete="off"
            {...describedBy("setup-token", errors.setupToken)}
            {...form.register("setupToken")}
          />
        </Field>
        <Field id="setup-email" label="Email" error={errors.email?.message}>
          <Input
            type="email"
            autoComplete="email"
            {...describedBy("setup-email", errors.email)}
            {...form.register("email")}
          />
        </Field>
        <Field
          id="setup-password"
          label="Password"
          hint="At least 10 characters."
          error={errors.password?.message}
        >
          <Input
            type="password"
            autoComplete="new-password"
            {...describedBy("setup-password", errors.password)}
            {...form.register("password")}
          />
        </Field>
        <FormError message={errors.root?.message} />
        <Button type="submit" disabled={form.formState.isSubmitting}>
          Create owner account
        </Button>
      </form>
    </AuthFrame>
  );
}

const loginSchema = z.object({
  email,
  password: z.string().min(1, "Enter your password").max(256),
});

export function LoginPage() {
  const me = useMe();
  const form = useZodForm(loginSchema, { defaultValues: { email: "", password: "" } });
  const done = useAfterSignIn();
  const errors = form.formState.errors;
  if (me.data?.needsSetup) return <Navigate to="/setup" />;
  const submit = form.handleSubmit(async (values) => {
    try {
      await trpcClient.auth.login.mutate(values);
      await done();
    } catch (err) {
      form.setError("root", { message: errorMessage(err) });
    }
  });
  return (
    <AuthFrame
      title="Sign in"
      description="Manage API keys, limits and policies. Gateway keys cannot sign in here."
    >
      <form onSubmit={submit} className="grid gap-4" noValidate>
        <Field id="login-email" label="Email" error={errors.email?.message}>
          <Input
            type="email"
            autoComplete="email"
            {...describedBy("login-email", errors.email)}
            {...form.register("email")}
          />
        </Field>
        <Field id="login-password" label="Password" error={errors.password?.message}>
          <Input
            type="password"
            autoComplete="current-password"
            {...describedBy("login-password", errors.password)}
            {...form.register("password")}
          />
        </Field>
        <FormError message={errors.root?.message} />
        <Button type="submit" disabled={form.formState.isSubmitting}>
          Sign in
        </Button>
      </form>
    </AuthFrame>
  );
}

const inviteSchema = z.object({ password: z.string().min(1, "Enter a password").max(256) });

export function InvitePage() {
  // The token travels in the fragment, which browsers never send to a server or a log.
  const [token] = useState(
    () => new URLSearchParams(window.location.hash.slice(1)).get("token") ?? "",
  );
  const form = useZodForm(inviteSchema, { defaultValues: { password: "" } });
  const done = useAfterSignIn();
  const errors = form.formState.errors;
  const submit = form.handleSubmit(async (values) => {
    try {
      const joined = await trpcClient.auth.acceptInvite.mutate({
        token,
        password: values.password,
      });
      history.replaceState(null, "", window.location.pathname);
      await done(`/projects/${joined.projectId}`);
    } catch (err) {
      form.setError("root", { message: errorMessage(err) });
    }
  });
  return (
    <AuthFrame
      title="Accept your invitation"
      description="New here? Choose a password (10+ characters). Already have an account? Enter its password."
    >
      {token ? (
        <form onSubmit={submit} className="grid gap-4" noValidate>
          <Field id="invite-password" label="Password" error={errors.password?.message}>
            <Input
              type="password"
              autoComplete="new-password"
              {...describedBy("invite-password", errors.password)}
              {...form.register("password")}
            />
          </Field>
          <FormError message={errors.root?.message} />
          <Button type="submit" disabled={form.formState.isSubmitting}>
            Join the project
          </Button>
        </form>
      ) : (
        <p role="alert" className="text-sm text-destructive">
          This link has no invitation token. Ask for a new invitation.
        </p>
      )}
    </AuthFrame>
  );
}

const changeSchema = z.object({
  currentPassword: z.string().min(1, "Enter your current password"),
  newPassword: password,
});

export function AccountPage() {
  const form = useZodForm(changeSchema, {
    defaultValues: { currentPassword: "", newPassword: "" },
  });
  const errors = form.formState.errors;
  const submit = form.handleSubmit(async (values) => {
    try {
      await trpcClient.auth.changePassword.mutate(values);
      toast.success("Password changed. Your other sessions were signed out.");
      form.reset();
    } catch (err) {
      form.setError("root", { message: errorMessage(err) });
    }
  });
  return (
    <AuthFrame
      title="Change password"
      description="Every other session of yours ends when you change it."
    >
      <form onSubmit={submit} className="grid gap-4" noValidate>
        <Field
          id="current-password"
          label="Current password"
          error={errors.currentPassword?.message}
        >
          <Input
            type="password"
            autoComplete="current-password"
            {...describedBy("current-password", errors.currentPassword)}
            {...form.register("currentPassword")}
          />
        </Field>
        <Field
          id="new-password"
          label="New password"
          hint="At least 10 characters."
          error={errors.newPassword?.message}
        >
          <Input
            type="password"
            autoComplete="new-password"
            {...describedBy("new-password", errors.newPassword)}
            {...form.register("newPassword")}
          />
        </Field>
        <FormError message={errors.root?.message} />
        <Button type="submit" disabled={form.formState.isSubmitting}>
          Change password
        </Button>
        <Link to="/" className="text-center text-sm text-primary hover:underline">
          Back to the dashboard
        </Link>
      </form>
    </AuthFrame>
  );
}

export function HomePage() {
  const me = useMe();
  const trpc = useTRPC();
  const signedIn = Boolean(me.data?.actor);
  const projects = useQuery({
    ...trpc.projects.list.queryOptions({ limit: 50 }),
    enabled: signedIn,
  });
  if (me.isPending) return <Loading label="Checking your session" />;
  if (me.isError)
    return (
      <div className="p-8">
        <ErrorState error={me.error} retry={() => me.refetch()} />
      </div>
    );
  if (me.data.needsSetup) return <Navigate to="/setup" />;
  if (!me.data.actor) return <Navigate to="/login" />;
  if (projects.isPending) return <Loading label="Loading projects" />;
  const first = projects.data?.items[0];
  if (first) return <Navigate to="/projects/$projectId" params={{ projectId: first.id }} />;
  return <Navigate to="/projects" />;
}

const projectSchema = z.object({ name: z.string().trim().min(1, "Name the project").max(100) });

export function ProjectsPage() {
  const me = useMe();
  const trpc = useTRPC();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const projects = useQuery({
    ...trpc.projects.list.queryOptions({ limit: 50 }),
    enabled: Boolean(me.data?.actor),
  });
  const form = useZodForm(projectSchema, { defaultValues: { name: "" } });
  const create = useMutation(
    trpc.projects.create.mutationOptions({
      onSuccess: async (p) => {
        await queryClient.invalidateQueries();
        toast.success(`Project ${p.name} created.`);
        await navigate({ to: "/projects/$projectId/keys", params: { projectId: p.id } });
      },
      onError: (err) => form.setError("root", { message: errorMessage(err) }),
    }),
  );
  if (me.data && !me.data.actor) return <Navigate to="/login" />;
  const errors = form.formState.errors;
  return (
    <AuthFrame
      title="Projects"
      description="A project holds its own providers, models, keys and members."
    >
      <div className="grid gap-4">
        {projects.isPending ? <Loading rows={2} /> : null}
        {projects.data?.items.length === 0 ? (
          <EmptyState title="No project yet">
            Create one to add a provider and your first key.
          </EmptyState>
        ) : null}
        <ul className="grid gap-1">
          {projects.data?.items.map((p) => (
            <li key={p.id}>
              <Link
                to="/projects/$projectId"
                params={{ projectId: p.id }}
                className="block rounded-md border px-3 py-2 text-sm hover:bg-muted"
              >
                {p.name}
              </Link>
            </li>
          ))}
        </ul>
        <form
          onSubmit={form.handleSubmit((v) => create.mutate(v))}
          className="grid gap-2"
          noValidate
        >
          <Field
            id="project-name"
            label="New project"
            error={errors.name?.message ?? errors.root?.message}
          >
            <Input
              placeholder="e.g. Production"
              {...describedBy("project-name", errors.name)}
              {...form.register("name")}
            />
          </Field>
          <Button type="submit" disabled={create.isPending}>
            <Plus aria-hidden="true" />
            Create project
          </Button>
        </form>
      </div>
    </AuthFrame>
  );
}
