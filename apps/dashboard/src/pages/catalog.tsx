import { policyDenial } from "@osm/policy/evaluate";
import { parseUsd } from "@osm/policy/money";
import { modelIdSchema, pricePer1MSchema, slugSchema } from "@osm/policy/schemas";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useParams } from "@tanstack/react-router";
import { Download, Pencil, Plug, Plus } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { z } from "zod";
import { ProbeButton } from "../components/probe-button.tsx";
import { Badge } from "../components/ui/badge.tsx";
import { Button } from "../components/ui/button.tsx";
import { Switch } from "../components/ui/controls.tsx";
import { Dialog, DialogContent } from "../components/ui/dialog.tsx";
import { Field, FormError, Input, NativeSelect } from "../components/ui/input.tsx";
import { ListCard } from "../components/ui/list-card.tsx";
import { EmptyState, PageHeader } from "../components/ui/states.tsx";
import { Table, TBody, Td, THead, Th, Tr } from "../components/ui/table.tsx";
import { describedBy, useZodForm } from "../lib/forms.ts";
import { formatMoney } from "../lib/money.ts";
import { type Outputs, useProjectRole } from "../lib/session.ts";
import { errorMessage, trpcClient, useTRPC } from "../lib/trpc.ts";

const providerSchema = z.object({
  id: slugSchema,
  kind: z.enum(["openai", "anthropic"]),
  baseUrl: z.url("Must be a URL like https://api.openai.com/v1"),
  apiKey: z.string().min(1, "Paste the provider's API key"),
});
// Editing keeps the stored key unless a new one is typed: it is never sent back to be shown.
const providerEditSchema = providerSchema.extend({ apiKey: z.string() });

type Provider = Outputs["providers"]["list"]["items"][number];

/** Adds a provider, or edits one's base URL and credential (`provider` given). */
function ProviderDialog({
  projectId,
  provider,
  open,
  onOpenChange,
}: {
  projectId: string;
  provider?: Provider;
  open: boolean;
  onOpenChange: (o: boolean) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const form = useZodForm(provider ? providerEditSchema : providerSchema, {
    values: provider
      ? { id: provider.id, kind: provider.kind, baseUrl: provider.baseUrl, apiKey: "" }
      : { id: "", kind: "openai", baseUrl: "", apiKey: "" },
  });
  const errors = form.formState.errors;
  const submit = form.handleSubmit(async (v) => {
    try {
      if (provider) {
        await trpcClient.providers.update.mutate({
          projectId,
          id: provider.id,
          baseUrl: v.baseUrl,
          apiKey: v.apiKey || undefined,
        });
      } else {
        await trpcClient.providers.create.mutate({ projectId, ...v });
      }
      await queryClient.invalidateQueries({ queryKey: trpc.providers.pathKey() });
      toast.success(provider ? `Provider ${v.id} saved.` : `Provider ${v.id} added.`);
      form.reset();
      onOpenChange(false);
    } catch (err) {
      form.setError("root", { message: errorMessage(err) });
    }
  });
  const action = provider ? "Save provider" : "Add provider";
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent
        title={provider ? `Edit provider ${provider.id}` : "Add provider"}
        description="The API key is stored encrypted and never shown again."
      >
        <form onSubmit={submit} className="grid gap-3" noValidate>
          <Field
            id="prov-id"
            label="Id"
            hint="Used in policies, e.g. openai."
            error={errors.id?.message}
          >
            <Input
              readOnly={Boolean(provider)}
              {...describedBy("prov-id", errors.id)}
              {...form.register("id")}
            />
          </Field>
          {provider ? null : (
            <Field id="prov-kind" label="API kind">
              <NativeSelect id="prov-kind" {...form.register("kind")}>
                <option value="openai">OpenAI-compatible</option>
                <option value="anthropic">Anthropic</option>
              </NativeSelect>
            </Field>
          )}
          <Field id="prov-url" label="Base URL" error={errors.baseUrl?.message}>
            <Input
              placeholder="https://api.openai.com/v1"
              {...describedBy("prov-url", errors.baseUrl)}
              {...form.register("baseUrl")}
            />
          </Field>
          <Field
            id="prov-key"
            label={provider ? "New API key" : "API key"}
            hint={
              provider
                ? "Set. Leave empty to keep it; required when the base URL moves to another origin."
                : undefined
            }
            error={errors.apiKey?.message}
          >
            <Input
              type="password"
              autoComplete="off"
              {...describedBy("prov-key", errors.apiKey)}
              {...form.register("apiKey")}
            />
          </Field>
          <FormError message={errors.root?.message} />
          <div className="flex justify-end gap-2">
            <Button variant="outline" onClick={() => onOpenChange(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={form.formState.isSubmitting}>
              {action}
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

const price = z.string().superRefine((t, ctx) => {
  const r = pricePer1MSchema.safeParse(t.trim());
  if (!r.success) ctx.addIssue({ code: "custom", message: r.error.issues[0]!.message });
});
const modelSchema = z.object({
  id: modelIdSchema,
  providerId: z.string().min(1, "Pick a provider"),
  upstreamModel: z.string().trim().min(1, "Name the provider's model"),
  inputUsdPer1M: price,
  outputUsdPer1M: price,
  tier: z.enum(["free", "paid", "premium"]),
});

/** Adds a model, or edits one's provider, upstream name, prices and tier (`model` given). */
function ModelDialog({
  projectId,
  providers,
  model,
  open,
  onOpenChange,
}: {
  projectId: string;
  providers: string[];
  model?: Model;
  open: boolean;
  onOpenChange: (o: boolean) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const form = useZodForm(modelSchema, {
    values: model
      ? {
          id: model.id,
          providerId: model.providerId,
          upstreamModel: model.upstreamModel,
          inputUsdPer1M: model.inputUsdPer1M,
          outputUsdPer1M: model.outputUsdPer1M,
          tier: model.tier,
        }
      : {
          id: "",
          providerId: providers[0] ?? "",
          upstreamModel: "",
          inputUsdPer1M: "",
          outputUsdPer1M: "",
          tier: "paid",
        },
  });
  const errors = form.formState.errors;
  const submit = form.handleSubmit(async (v) => {
    try {
      const fields = {
        projectId,
        ...v,
        inputUsdPer1M: v.inputUsdPer1M.trim(),
        outputUsdPer1M: v.outputUsdPer1M.trim(),
      };
      if (model) await trpcClient.models.update.mutate(fields);
      else await trpcClient.models.create.mutate(fields);
      await queryClient.invalidateQueries({ queryKey: trpc.models.pathKey() });
      toast.success(model ? `Model ${v.id} saved.` : `Model ${v.id} added.`);
      form.reset();
      onOpenChange(false);
    } catch (err) {
      form.setError("root", { message: errorMessage(err) });
    }
  });
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent
        title={model ? `Edit model ${model.id}` : "Add model"}
        description="Clients call it by its id; prices are USD per 1M tokens."
      >
        <form onSubmit={submit} className="grid gap-3 sm:grid-cols-2" noValidate>
          <Field id="model-id" label="Model id" error={errors.id?.message}>
            <Input
              readOnly={Boolean(model)}
              {...describedBy("model-id", errors.id)}
              {...form.register("id")}
            />
          </Field>
          <Field id="model-provider" label="Provider" error={errors.providerId?.message}>
            <NativeSelect id="model-provider" {...form.register("providerId")}>
              {providers.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </NativeSelect>
          </Field>
          <Field
            id="model-upstream"
            label="Upstream model"
            error={errors.upstreamModel?.message}
            className="sm:col-span-2"
          >
            <Input
              {...describedBy("model-upstream", errors.upstreamModel)}
              {...form.register("upstreamModel")}
            />
          </Field>
          <Field id="model-in" label="Input USD / 1M" error={errors.inputUsdPer1M?.message}>
            <Input
              inputMode="decimal"
              {...describedBy("model-in", errors.inputUsdPer1M)}
              {...form.register("inputUsdPer1M")}
            />
          </Field>
          <Field id="model-out" label="Output USD / 1M" error={errors.outputUsdPer1M?.message}>
            <Input
              inputMode="decimal"
              {...describedBy("model-out", errors.outputUsdPer1M)}
              {...form.register("outputUsdPer1M")}
            />
          </Field>
          <Field id="model-tier" label="Tier">
            <NativeSelect id="model-tier" {...form.register("tier")}>
              <option value="free">free</option>
              <option value="paid">paid</option>
              <option value="premium">premium</option>
            </NativeSelect>
          </Field>
          <FormError message={errors.root?.message} className="sm:col-span-2" />
          <div className="flex justify-end gap-2 sm:col-span-2">
            <Button variant="outline" onClick={() => onOpenChange(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={form.formState.isSubmitting}>
              {model ? "Save model" : "Add model"}
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

type Model = Outputs["models"]["list"]["items"][number];
type Key = Outputs["keys"]["list"]["items"][number];

/** The live keys whose policy lets them call the model, by the gateway's own policy rules. */
function reachingKeys(m: Model, keys: Key[]): Key[] {
  const model = {
    id: m.id,
    providerId: m.providerId,
    tier: m.tier,
    inputPer1M: parseUsd(m.inputUsdPer1M) ?? 0n,
    outputPer1M: parseUsd(m.outputUsdPer1M) ?? 0n,
    active: m.active,
    maxOutputTokens: m.maxOutputTokens,
    tokenParam: m.tokenParam,
  };
  const provider = { id: m.providerId, kind: "openai" as const };
  return keys.filter(
    (k) =>
      k.status === "active" &&
      (k.policy.mode === "shadow" || !policyDenial(k.policy, { model: m.id }, model, provider)),
  );
}

/** Lists the provider's models with its stored key. */
function TestConnection({ projectId, providerId }: { projectId: string; providerId: string }) {
  return (
    <ProbeButton
      label="Test connection"
      busyLabel="Testing…"
      okLabel="Connected"
      icon={Plug}
      run={() => trpcClient.providers.test.mutate({ projectId, id: providerId })}
      testId={`provider-test-${providerId}`}
    />
  );
}

export function CatalogPage() {
  const { projectId } = useParams({ from: "/projects/$projectId/catalog" });
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { isAdmin } = useProjectRole(projectId);
  const providers = useQuery(trpc.providers.list.queryOptions({ projectId, limit: 100 }));
  const models = useQuery(trpc.models.list.queryOptions({ projectId, limit: 100 }));
  const keys = useQuery(trpc.keys.list.queryOptions({ projectId, limit: 100 }));
  const [addingProvider, setAddingProvider] = useState(false);
  const [addingModel, setAddingModel] = useState(false);
  const [editingProvider, setEditingProvider] = useState<Provider | null>(null);
  const [editingModel, setEditingModel] = useState<Model | null>(null);
  const providerIds = providers.data?.items.map((p) => p.id) ?? [];

  async function run(label: string, call: () => Promise<unknown>) {
    try {
      await call();
      await queryClient.invalidateQueries({ queryKey: trpc.models.pathKey() });
      await queryClient.invalidateQueries({ queryKey: trpc.providers.pathKey() });
      toast.success(label);
    } catch (err) {
      toast.error(errorMessage(err));
    }
  }

  return (
    <>
      <PageHeader
        title="Catalog"
        description="The providers this project routes to and the priced models keys can call."
      />
      <ListCard
        title="Providers"
        description="Credentials are write-only."
        actions={
          isAdmin ? (
            <Button size="sm" onClick={() => setAddingProvider(true)}>
              <Plus aria-hidden="true" />
              Add provider
            </Button>
          ) : null
        }
        query={providers}
        isEmpty={(d) => d.items.length === 0}
        empty={
          <EmptyState
            title="No provider yet"
            action={
              isAdmin ? (
                <Button onClick={() => setAddingProvider(true)}>Add a provider</Button>
              ) : null
            }
          >
            Add an OpenAI-compatible or Anthropic endpoint with its API key.
          </EmptyState>
        }
      >
        {(data) => (
          <Table aria-label="Providers">
            <THead>
              <tr>
                <Th>Id</Th>
                <Th>Kind</Th>
                <Th>Base URL</Th>
                <Th>Credential</Th>
                {isAdmin ? <Th>Actions</Th> : null}
              </tr>
            </THead>
            <TBody>
              {data.items.map((p) => (
                <Tr key={p.id}>
                  <Td className="font-mono text-xs">{p.id}</Td>
                  <Td>{p.kind}</Td>
                  <Td className="max-w-72 truncate font-mono text-xs">{p.baseUrl}</Td>
                  <Td>
                    {p.hasApiKey ? (
                      <Badge tone="success">Set</Badge>
                    ) : (
                      <Badge tone="warning">Missing</Badge>
                    )}
                  </Td>
                  {isAdmin ? (
                    <Td>
                      <div className="flex flex-wrap items-center gap-1">
                        <Button
                          size="sm"
                          variant="outline"
                          aria-label={`Edit provider ${p.id}`}
                          onClick={() => setEditingProvider(p)}
                        >
                          <Pencil aria-hidden="true" />
                          Edit
                        </Button>
                        <TestConnection projectId={projectId} providerId={p.id} />
                        <Button
                          size="sm"
                          variant="outline"
                          onClick={() =>
                            run(`Imported the default price list for ${p.id}.`, () =>
                              trpcClient.models.importDefaults.mutate({
                                projectId,
                                providerId: p.id,
                              }),
                            )
                          }
                        >
                          <Download aria-hidden="true" />
                          Import defaults
                        </Button>
                      </div>
                    </Td>
                  ) : null}
                </Tr>
              ))}
            </TBody>
          </Table>
        )}
      </ListCard>
      <ListCard
        className="mt-4"
        title="Models"
        description={
          'Prices in USD per 1M tokens; "reachable by" counts the active keys whose policy allows the model.'
        }
        actions={
          isAdmin && providerIds.length ? (
            <Button size="sm" onClick={() => setAddingModel(true)}>
              <Plus aria-hidden="true" />
              Add model
            </Button>
          ) : null
        }
        query={models}
        isEmpty={(d) => d.items.length === 0}
        empty={
          <EmptyState title="No models yet">
            Add a model or import the default price list for a provider.
          </EmptyState>
        }
      >
        {(data) => (
          <Table aria-label="Models">
            <THead>
              <tr>
                <Th>Model</Th>
                <Th>Provider</Th>
                <Th>Tier</Th>
                <Th className="text-right">Input</Th>
                <Th className="text-right">Output</Th>
                <Th>Reachable by</Th>
                <Th>Active</Th>
                {isAdmin ? (
                  <Th>
                    <span className="sr-only">Actions</span>
                  </Th>
                ) : null}
              </tr>
            </THead>
            <TBody>
              {data.items.map((m) => {
                const reach = reachingKeys(m, keys.data?.items ?? []);
                return (
                  <Tr key={m.id}>
                    <Td className="font-mono text-xs">{m.id}</Td>
                    <Td className="text-xs">{m.providerId}</Td>
                    <Td>
                      <Badge>{m.tier}</Badge>
                    </Td>
                    <Td className="text-right text-xs tabular-nums">
                      {formatMoney(m.inputUsdPer1M)}
                    </Td>
                    <Td className="text-right text-xs tabular-nums">
                      {formatMoney(m.outputUsdPer1M)}
                    </Td>
                    <Td className="text-xs" title={reach.map((k) => k.label).join(", ")}>
                      {reach.length} key{reach.length === 1 ? "" : "s"}
                    </Td>
                    <Td>
                      {isAdmin ? (
                        <Switch
                          aria-label={`${m.id} active`}
                          checked={m.active}
                          onCheckedChange={(active) =>
                            run(`${m.id} ${active ? "activated" : "deactivated"}.`, () =>
                              trpcClient.models.update.mutate({ projectId, id: m.id, active }),
                            )
                          }
                        />
                      ) : m.active ? (
                        "Yes"
                      ) : (
                        "No"
                      )}
                    </Td>
                    {isAdmin ? (
                      <Td className="whitespace-nowrap">
                        <Button
                          size="sm"
                          variant="ghost"
                          aria-label={`Edit model ${m.id}`}
                          onClick={() => setEditingModel(m)}
                        >
                          Edit
                        </Button>
                        <Button
                          size="sm"
                          variant="ghost"
                          aria-label={`Delete model ${m.id}`}
                          onClick={() =>
                            run(`${m.id} deleted.`, () =>
                              trpcClient.models.delete.mutate({ projectId, id: m.id }),
                            )
                          }
                        >
                          Delete
                        </Button>
                      </Td>
                    ) : null}
                  </Tr>
                );
              })}
            </TBody>
          </Table>
        )}
      </ListCard>
      {isAdmin ? (
        <ProviderDialog
          projectId={projectId}
          open={addingProvider}
          onOpenChange={setAddingProvider}
        />
      ) : null}
      {isAdmin && providerIds.length ? (
        <ModelDialog
          projectId={projectId}
          providers={providerIds}
          open={addingModel}
          onOpenChange={setAddingModel}
        />
      ) : null}
      {isAdmin && editingProvider ? (
        <ProviderDialog
          projectId={projectId}
          provider={editingProvider}
          open
          onOpenChange={(o) => !o && setEditingProvider(null)}
        />
      ) : null}
      {isAdmin && editingModel ? (
        <ModelDialog
          projectId={projectId}
          providers={providerIds}
          model={editingModel}
          open
          onOpenChange={(o) => !o && setEditingModel(null)}
        />
      ) : null}
    </>
  );
}
