import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate, useParams, useSearch } from "@tanstack/react-router";
import { Plus, Send } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { z } from "zod";
import { ProbeButton } from "../components/probe-button.tsx";
import { SecretReveal } from "../components/secret-reveal.tsx";
import { Badge } from "../components/ui/badge.tsx";
import { Button } from "../components/ui/button.tsx";
import {
  Card,
  CardContent,
  CardDescription,
  CardHeader,
  CardTitle,
} from "../components/ui/card.tsx";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "../components/ui/controls.tsx";
import { CopyButton } from "../components/ui/copy-button.tsx";
import { Field, FormError, Input, NativeSelect } from "../components/ui/input.tsx";
import { ListCard } from "../components/ui/list-card.tsx";
import { PageHeader } from "../components/ui/states.tsx";
import { Table, TBody, Td, THead, Th, Tr } from "../components/ui/table.tsx";
import { describedBy, useZodForm } from "../lib/forms.ts";
import { type Role, useProjectRole } from "../lib/session.ts";
import { formatTime, relative } from "../lib/time.ts";
import { errorMessage, trpcClient, useTRPC } from "../lib/trpc.ts";

const roles: Role[] = ["viewer", "member", "admin", "owner"];

function useRun() {
  const queryClient = useQueryClient();
  return async (label: string, call: () => Promise<unknown>) => {
    try {
      await call();
      await queryClient.invalidateQueries();
      toast.success(label);
      return true;
    } catch (err) {
      toast.error(errorMessage(err));
      return false;
    }
  };
}

const inviteSchema = z.object({
  email: z.email("Enter an email address"),
  role: z.enum(["viewer", "member", "admin", "owner"]),
});

function Members({ projectId, isOwner }: { projectId: string; isOwner: boolean }) {
  const trpc = useTRPC();
  const run = useRun();
  const queryClient = useQueryClient();
  const members = useQuery(trpc.members.list.queryOptions({ projectId }));
  const [inviteUrl, setInviteUrl] = useState<string | null>(null);
  const form = useZodForm(inviteSchema, { defaultValues: { email: "", role: "member" } });
  const errors = form.formState.errors;
  const invite = form.handleSubmit(async (v) => {
    try {
      const r = await trpcClient.members.invite.mutate({ projectId, ...v });
      setInviteUrl(r.inviteUrl);
      form.reset();
      await queryClient.invalidateQueries({ queryKey: trpc.members.invitations.pathKey() });
    } catch (err) {
      form.setError("root", { message: errorMessage(err) });
    }
  });
  return (
    <div className="grid gap-4">
      <ListCard
        title="Members"
        query={members}
        isEmpty={(d) => d.items.length === 0}
        empty="No members"
      >
        {(data) => (
          <Table aria-label="Members">
            <THead>
              <tr>
                <Th>Email</Th>
                <Th>Role</Th>
                <Th>Since</Th>
                {isOwner ? (
                  <Th>
                    <span className="sr-only">Actions</span>
                  </Th>
                ) : null}
              </tr>
            </THead>
            <TBody>
              {data.items.map((m) => (
                <Tr key={m.userId}>
                  <Td>{m.email}</Td>
                  <Td>
                    {isOwner ? (
                      <NativeSelect
                        aria-label={`Role of ${m.email}`}
                        className="w-32"
                        value={m.role}
                        onChange={(e) =>
                          run(`${m.email} is now ${e.target.value}.`, () =>
                            trpcClient.members.setRole.mutate({
                              projectId,
                              userId: m.userId,
                              role: e.target.value as Role,
                            }),
                          )
                        }
                      >
                        {roles.map((r) => (
                          <option key={r} value={r}>
                            {r}
                          </option>
                        ))}
                      </NativeSelect>
                    ) : (
                      <Badge>{m.role}</Badge>
                    )}
                  </Td>
                  <Td className="text-xs">{formatTime(m.createdAt)}</Td>
                  {isOwner ? (
                    <Td>
                      <Button
                        size="sm"
                        variant="ghost"
                        aria-label={`Remove ${m.email}`}
                        onClick={() =>
                          run(`${m.email} removed.`, () =>
                            trpcClient.members.remove.mutate({ projectId, userId: m.userId }),
                          )
                        }
                      >
                        Remove
                      </Button>
                    </Td>
                  ) : null}
                </Tr>
              ))}
            </TBody>
          </Table>
        )}
      </ListCard>
      {isOwner ? (
        <Card>
          <CardHeader>
            <div>
              <CardTitle>Invite someone</CardTitle>
              <CardDescription>
                They get a link valid for 7 days; send it to them yourself.
              </CardDescription>
            </div>
          </CardHeader>
          <CardContent>
            <form
              onSubmit={invite}
              className="grid gap-3 sm:grid-cols-[1fr_10rem_auto] sm:items-end"
              noValidate
            >
              <Field id="invite-email" label="Email" error={errors.email?.message}>
                <Input
                  type="email"
                  {...describedBy("invite-email", errors.email)}
                  {...form.register("email")}
                />
              </Field>
              <Field id="invite-role" label="Role">
                <NativeSelect id="invite-role" {...form.register("role")}>
                  {roles.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </NativeSelect>
              </Field>
              <Button type="submit">
                <Plus aria-hidden="true" />
                Invite
              </Button>
            </form>
            {errors.root ? (
              <p role="alert" className="mt-2 text-sm text-destructive">
                {errors.root.message}
              </p>
            ) : null}
            {inviteUrl ? (
              <div className="mt-3 flex flex-wrap items-center gap-2 rounded-md border bg-muted p-3">
                <code className="min-w-0 flex-1 break-all text-xs">{inviteUrl}</code>
                <CopyButton value={inviteUrl} label="Copy link" />
              </div>
            ) : null}
          </CardContent>
        </Card>
      ) : null}
      {isOwner ? <Invitations projectId={projectId} /> : null}
    </div>
  );
}

/** Open invitations: the links are never shown again, but an unused one can be withdrawn. */
function Invitations({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const run = useRun();
  const open = useQuery(trpc.members.invitations.queryOptions({ projectId, limit: 100 }));
  return (
    <ListCard
      title="Open invitations"
      description="Not yet accepted and not expired."
      query={open}
      isEmpty={(d) => d.items.length === 0}
      empty="No open invitations."
    >
      {(data) => (
        <Table aria-label="Open invitations">
          <THead>
            <tr>
              <Th>Email</Th>
              <Th>Role</Th>
              <Th>Expires</Th>
              <Th>
                <span className="sr-only">Actions</span>
              </Th>
            </tr>
          </THead>
          <TBody>
            {data.items.map((i) => (
              <Tr key={i.id} data-testid={`invitation-${i.email}`}>
                <Td>{i.email}</Td>
                <Td>
                  <Badge>{i.role}</Badge>
                </Td>
                <Td className="text-xs" title={formatTime(i.expiresAt)}>
                  {relative(i.expiresAt)}
                </Td>
                <Td>
                  <Button
                    size="sm"
                    variant="ghost"
                    aria-label={`Revoke the invitation for ${i.email}`}
                    onClick={() =>
                      run(`The invitation for ${i.email} no longer works.`, () =>
                        trpcClient.members.revokeInvitation.mutate({ id: i.id }),
                      )
                    }
                  >
                    Revoke
                  </Button>
                </Td>
              </Tr>
            ))}
          </TBody>
        </Table>
      )}
    </ListCard>
  );
}

const tokenSchema = z.object({
  label: z.string().trim().min(1, "Give the token a label").max(200),
  role: z.enum(["viewer", "member", "admin"]),
});

function Tokens({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const run = useRun();
  const queryClient = useQueryClient();
  const tokens = useQuery(trpc.tokens.list.queryOptions({ projectId }));
  const [secret, setSecret] = useState<string | null>(null);
  const form = useZodForm(tokenSchema, { defaultValues: { label: "", role: "viewer" } });
  const errors = form.formState.errors;
  const create = form.handleSubmit(async (v) => {
    try {
      const r = await trpcClient.tokens.create.mutate({ projectId, ...v });
      await queryClient.invalidateQueries({ queryKey: trpc.tokens.pathKey() });
      form.reset();
      setSecret(r.secret);
    } catch (err) {
      form.setError("root", { message: errorMessage(err) });
    }
  });
  return (
    <div className="grid gap-4">
      <ListCard
        title="Management tokens"
        description="For scripts and CI that manage this project through the API (not for gateway calls)."
        before={
          <>
            <form
              onSubmit={create}
              className="grid gap-3 sm:grid-cols-[1fr_10rem_auto] sm:items-end"
              noValidate
            >
              <Field id="token-label" label="Label" error={errors.label?.message}>
                <Input {...describedBy("token-label", errors.label)} {...form.register("label")} />
              </Field>
              <Field id="token-role" label="Role">
                <NativeSelect id="token-role" {...form.register("role")}>
                  <option value="viewer">viewer</option>
                  <option value="member">member</option>
                  <option value="admin">admin</option>
                </NativeSelect>
              </Field>
              <Button type="submit">
                <Plus aria-hidden="true" />
                Create token
              </Button>
            </form>
            <FormError message={errors.root?.message} />
          </>
        }
        query={tokens}
        isEmpty={(d) => d.items.length === 0}
        empty="No tokens"
      >
        {(data) => (
          <Table aria-label="Management tokens">
            <THead>
              <tr>
                <Th>Label</Th>
                <Th>Token</Th>
                <Th>Role</Th>
                <Th>Status</Th>
                <Th>Last used</Th>
                <Th>
                  <span className="sr-only">Actions</span>
                </Th>
              </tr>
            </THead>
            <TBody>
              {data.items.map((t) => (
                <Tr key={t.id}>
                  <Td>{t.label}</Td>
                  <Td className="font-mono text-xs">{t.display}</Td>
                  <Td>{t.role}</Td>
                  <Td>
                    <Badge tone={t.status === "active" ? "success" : "neutral"}>{t.status}</Badge>
                  </Td>
                  <Td className="text-xs">{relative(t.lastUsedAt)}</Td>
                  <Td>
                    {t.status === "active" ? (
                      <Button
                        size="sm"
                        variant="ghost"
                        aria-label={`Revoke ${t.label}`}
                        onClick={() =>
                          run(`${t.label} revoked.`, () =>
                            trpcClient.tokens.revoke.mutate({ id: t.id }),
                          )
                        }
                      >
                        Revoke
                      </Button>
                    ) : null}
                  </Td>
                </Tr>
              ))}
            </TBody>
          </Table>
        )}
      </ListCard>
      <SecretReveal
        secret={secret}
        title="Your management token"
        description="Send it as a Bearer token to the management API."
        onClose={() => setSecret(null)}
        snippet={false}
      />
    </div>
  );
}

function Alerts({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const settings = useQuery(trpc.alerts.get.queryOptions({ projectId }));
  const deliveries = useQuery({
    ...trpc.alerts.deliveries.queryOptions({ projectId }),
    refetchInterval: 5000,
  });
  const [url, setUrl] = useState("");
  const [signing, setSigning] = useState<string | null>(null);
  const queryClient = useQueryClient();
  async function save() {
    try {
      const r = await trpcClient.alerts.set.mutate({ projectId, url });
      await queryClient.invalidateQueries({ queryKey: trpc.alerts.pathKey() });
      setSigning(r.signingSecret);
    } catch (err) {
      toast.error(errorMessage(err));
    }
  }
  return (
    <div className="grid gap-4">
      <Card>
        <CardHeader>
          <div>
            <CardTitle>Budget alert webhook</CardTitle>
            <CardDescription>
              osm POSTs a signed event when a key crosses 50 %, 80 % and 100 % of its limit.
            </CardDescription>
          </div>
        </CardHeader>
        <CardContent className="grid gap-3">
          <p className="text-sm">
            Current:{" "}
            {settings.data ? (
              <code className="text-xs">{settings.data.url}</code>
            ) : (
              <span className="text-muted-foreground">not set</span>
            )}
          </p>
          <form
            className="flex flex-wrap items-end gap-2"
            onSubmit={(e) => {
              e.preventDefault();
              void save();
            }}
          >
            <Field id="webhook-url" label="Webhook URL" className="min-w-64 flex-1">
              <Input
                id="webhook-url"
                placeholder="https://example.com/hooks/osm"
                value={url}
                onChange={(e) => setUrl(e.target.value)}
              />
            </Field>
            <Button type="submit" disabled={!url}>
              Save
            </Button>
          </form>
          {settings.data ? (
            <ProbeButton
              label="Send test event"
              busyLabel="Sending…"
              okLabel="Delivered"
              icon={Send}
              run={() => trpcClient.alerts.sendTest.mutate({ projectId })}
              testId="webhook-test"
            />
          ) : null}
        </CardContent>
      </Card>
      <ListCard
        title="Deliveries"
        query={deliveries}
        isEmpty={(d) => d.items.length === 0}
        empty="No deliveries yet"
      >
        {(data) => (
          <Table aria-label="Alert deliveries">
            <THead>
              <tr>
                <Th>Created</Th>
                <Th>Key</Th>
                <Th>Threshold</Th>
                <Th>Status</Th>
                <Th>Attempts</Th>
                <Th>Response</Th>
              </tr>
            </THead>
            <TBody>
              {data.items.map((d) => (
                <Tr key={d.id}>
                  <Td className="text-xs">{formatTime(d.createdAt)}</Td>
                  <Td className="font-mono text-xs">{d.keyId}</Td>
                  <Td>{d.threshold}%</Td>
                  <Td>
                    <Badge
                      tone={
                        d.status === "delivered"
                          ? "success"
                          : d.status === "failed"
                            ? "danger"
                            : "neutral"
                      }
                    >
                      {d.status}
                    </Badge>
                  </Td>
                  <Td>{d.attempts}</Td>
                  <Td className="text-xs">{d.responseStatus ?? d.lastError ?? "—"}</Td>
                </Tr>
              ))}
            </TBody>
          </Table>
        )}
      </ListCard>
      <SecretReveal
        secret={signing}
        title="Webhook signing secret"
        description="Verify each delivery's signature with it."
        onClose={() => setSigning(null)}
        snippet={false}
      />
    </div>
  );
}

function Audit({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const [action, setAction] = useState("");
  const audit = useQuery(
    trpc.audit.list.queryOptions({ projectId, action: action || undefined, limit: 100 }),
  );
  return (
    <ListCard
      title="Audit log"
      actions={
        <NativeSelect
          aria-label="Action"
          className="w-48"
          value={action}
          onChange={(e) => setAction(e.target.value)}
        >
          <option value="">All actions</option>
          <option value="key.">Keys</option>
          <option value="member.">Members</option>
          <option value="token.">Tokens</option>
          <option value="provider.">Providers</option>
          <option value="model.">Models</option>
          <option value="alerts.">Alerts</option>
        </NativeSelect>
      }
      query={audit}
      isEmpty={(d) => d.items.length === 0}
      empty="Nothing recorded"
    >
      {(data) => (
        <Table aria-label="Audit log">
          <THead>
            <tr>
              <Th>Time</Th>
              <Th>Actor</Th>
              <Th>Action</Th>
              <Th>Target</Th>
            </tr>
          </THead>
          <TBody>
            {data.items.map((a) => (
              <Tr key={a.id}>
                <Td className="whitespace-nowrap text-xs">{formatTime(a.createdAt)}</Td>
                <Td className="text-xs">
                  {a.actorType}
                  {a.actorId ? ` · ${a.actorId}` : ""}
                </Td>
                <Td className="font-mono text-xs">{a.action}</Td>
                <Td className="font-mono text-xs">{a.targetId ?? "—"}</Td>
              </Tr>
            ))}
          </TBody>
        </Table>
      )}
    </ListCard>
  );
}

export function SettingsPage() {
  const { projectId } = useParams({ from: "/projects/$projectId/settings" });
  const search = useSearch({ from: "/projects/$projectId/settings" });
  const navigate = useNavigate({ from: "/projects/$projectId/settings" });
  const { isAdmin, isOwner } = useProjectRole(projectId);
  const tab = search.tab ?? "members";
  return (
    <>
      <PageHeader
        title="Settings"
        description="People, automation and notifications for this project."
      />
      <Tabs
        value={tab}
        onValueChange={(v) => navigate({ search: { tab: v as typeof tab }, replace: true })}
      >
        <TabsList aria-label="Settings sections" className="mb-4">
          <TabsTrigger value="members">Members</TabsTrigger>
          {isAdmin ? <TabsTrigger value="tokens">Tokens</TabsTrigger> : null}
          {isAdmin ? <TabsTrigger value="alerts">Alerts</TabsTrigger> : null}
          <TabsTrigger value="audit">Audit log</TabsTrigger>
        </TabsList>
        <TabsContent value="members">
          <Members projectId={projectId} isOwner={isOwner} />
        </TabsContent>
        {isAdmin ? (
          <TabsContent value="tokens">
            <Tokens projectId={projectId} />
          </TabsContent>
        ) : null}
        {isAdmin ? (
          <TabsContent value="alerts">
            <Alerts projectId={projectId} />
          </TabsContent>
        ) : null}
        <TabsContent value="audit">
          <Audit projectId={projectId} />
        </TabsContent>
      </Tabs>
    </>
  );
}
