import type { KeyPolicy } from "@osm/policy/schemas";
import { keyPolicySchema, priceLimitSchema, slugSchema } from "@osm/policy/schemas";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "@tanstack/react-router";
import { CheckCircle2, FlaskConical, XCircle } from "lucide-react";
import { useEffect, useState } from "react";
import { Controller } from "react-hook-form";
import { toast } from "sonner";
import { z } from "zod";
import { PatternList } from "../components/pattern-list.tsx";
import { Badge } from "../components/ui/badge.tsx";
import { Button } from "../components/ui/button.tsx";
import {
  Card,
  CardContent,
  CardDescription,
  CardHeader,
  CardTitle,
} from "../components/ui/card.tsx";
import { Checkbox, Switch } from "../components/ui/controls.tsx";
import { Field, FormError, Input } from "../components/ui/input.tsx";
import { EmptyState, ErrorState, Loading } from "../components/ui/states.tsx";
import { Table, TBody, Td, THead, Th, Tr } from "../components/ui/table.tsx";
import { describedBy, optionalCount, optionalText, useZodForm } from "../lib/forms.ts";
import { formatMoney } from "../lib/money.ts";
import { useProjectRole } from "../lib/session.ts";
import { errorMessage, trpcClient, useTRPC } from "../lib/trpc.ts";

const tiers = ["free", "paid", "premium"] as const;

const formSchema = z.object({
  shadow: z.boolean(),
  allowModels: z.array(z.string()),
  blockModels: z.array(z.string()),
  allowProviders: z.array(z.string()),
  blockProviders: z.array(z.string()),
  tiers: z.array(z.enum(tiers)),
  maxInputUsdPer1M: optionalText(priceLimitSchema),
  maxOutputUsdPer1M: optionalText(priceLimitSchema),
  maxTokensPerRequest: optionalCount,
  requestsPerMinute: optionalCount,
  tokensPerMinute: optionalCount,
});
type FormValues = z.infer<typeof formSchema>;

function toForm(p: KeyPolicy): FormValues {
  return {
    shadow: p.mode === "shadow",
    allowModels: p.models?.allow ?? [],
    blockModels: p.models?.block ?? [],
    allowProviders: p.providers?.allow ?? [],
    blockProviders: p.providers?.block ?? [],
    tiers: p.tiers ?? [],
    maxInputUsdPer1M: p.maxInputUsdPer1M ?? "",
    maxOutputUsdPer1M: p.maxOutputUsdPer1M ?? "",
    maxTokensPerRequest: p.maxTokensPerRequest?.toString() ?? "",
    requestsPerMinute: p.rateLimit?.requestsPerMinute?.toString() ?? "",
    tokensPerMinute: p.rateLimit?.tokensPerMinute?.toString() ?? "",
  };
}

const nonEmpty = <T,>(list: T[]) => (list.length ? list : undefined);
const count = (text: string) => (text ? Number(text) : undefined);

/** The form as the stored policy shape: empty fields are omitted (no rule), never empty lists. */
function toPolicy(v: FormValues): KeyPolicy {
  const models = { allow: nonEmpty(v.allowModels), block: nonEmpty(v.blockModels) };
  const providers = { allow: nonEmpty(v.allowProviders), block: nonEmpty(v.blockProviders) };
  const rateLimit = {
    requestsPerMinute: count(v.requestsPerMinute),
    tokensPerMinute: count(v.tokensPerMinute),
  };
  return JSON.parse(
    JSON.stringify({
      mode: v.shadow ? "shadow" : "enforce",
      models: models.allow || models.block ? models : undefined,
      providers: providers.allow || providers.block ? providers : undefined,
      tiers: nonEmpty(v.tiers),
      maxInputUsdPer1M: v.maxInputUsdPer1M || undefined,
      maxOutputUsdPer1M: v.maxOutputUsdPer1M || undefined,
      maxTokensPerRequest: count(v.maxTokensPerRequest),
      rateLimit: rateLimit.requestsPerMinute || rateLimit.tokensPerMinute ? rateLimit : undefined,
    }),
  );
}

function ShadowPanel({ keyId, shadow }: { keyId: string; shadow: boolean }) {
  const trpc = useTRPC();
  const report = useQuery({
    ...trpc.policy.shadowReport.queryOptions({ keyId, hours: 24 }),
    refetchInterval: 3000,
  });
  return (
    <Card>
      <CardHeader>
        <div>
          <CardTitle>Shadow report · last 24 h</CardTitle>
          <CardDescription>
            Requests this policy would have refused while it ran in shadow mode.
          </CardDescription>
        </div>
        {!shadow ? <Badge>Enforcing</Badge> : <Badge tone="info">Shadow</Badge>}
      </CardHeader>
      <CardContent>
        {report.isPending ? (
          <Loading rows={2} />
        ) : report.isError ? (
          <ErrorState error={report.error} />
        ) : (
          <div className="grid gap-3">
            <p className="text-sm" data-testid="shadow-total">
              Would have denied{" "}
              <strong className="text-lg tabular-nums">{report.data.total}</strong> request
              {report.data.total === 1 ? "" : "s"} in the last 24 h.
            </p>
            {report.data.items.length ? (
              <Table aria-label="Would-be denials by rule">
                <THead>
                  <tr>
                    <Th>Code</Th>
                    <Th>Rule</Th>
                    <Th className="text-right">Requests</Th>
                  </tr>
                </THead>
                <TBody>
                  {report.data.items.map((i) => (
                    <Tr key={`${i.code}|${i.rule}`}>
                      <Td className="font-mono text-xs">{i.code}</Td>
                      <Td className="text-xs">{i.rule}</Td>
                      <Td className="text-right tabular-nums">{i.count}</Td>
                    </Tr>
                  ))}
                </TBody>
              </Table>
            ) : null}
          </div>
        )}
      </CardContent>
    </Card>
  );
}

const simSchema = z.object({
  model: z.string().trim().min(1, "Pick a model"),
  inputTokens: optionalCount,
  outputTokens: optionalCount,
  maxTokens: optionalCount,
});

function Simulator({ keyId, models }: { keyId: string; models: string[] }) {
  const trpc = useTRPC();
  const form = useZodForm(simSchema, {
    defaultValues: {
      model: models[0] ?? "",
      inputTokens: "100",
      outputTokens: "200",
      maxTokens: "",
    },
  });
  const [params, setParams] = useState<{
    keyId: string;
    model: string;
    inputTokens?: number;
    outputTokens?: number;
    maxTokens?: number;
  } | null>(null);
  const result = useQuery({
    ...trpc.policy.simulate.queryOptions(params ?? { keyId, model: "x" }),
    enabled: params !== null,
    staleTime: 0,
  });
  const errors = form.formState.errors;
  const submit = form.handleSubmit((v) =>
    setParams({
      keyId,
      model: v.model,
      inputTokens: count(v.inputTokens),
      outputTokens: count(v.outputTokens),
      maxTokens: count(v.maxTokens) || undefined,
    }),
  );
  const r = result.data;
  return (
    <Card>
      <CardHeader>
        <div>
          <CardTitle>Request simulator</CardTitle>
          <CardDescription>
            Runs the saved policy and the live budget exactly as the gateway would, without calling
            a provider.
          </CardDescription>
        </div>
      </CardHeader>
      <CardContent className="grid gap-4">
        <form onSubmit={submit} className="grid gap-3 sm:grid-cols-4" noValidate>
          <Field
            id="sim-model"
            label="Model"
            error={errors.model?.message}
            className="sm:col-span-4"
          >
            <Input
              list="sim-models"
              {...describedBy("sim-model", errors.model)}
              {...form.register("model")}
            />
          </Field>
          <datalist id="sim-models">
            {models.map((m) => (
              <option key={m} value={m} />
            ))}
          </datalist>
          <Field id="sim-in" label="Input tokens" error={errors.inputTokens?.message}>
            <Input
              inputMode="numeric"
              {...describedBy("sim-in", errors.inputTokens)}
              {...form.register("inputTokens")}
            />
          </Field>
          <Field id="sim-out" label="Output tokens" error={errors.outputTokens?.message}>
            <Input
              inputMode="numeric"
              {...describedBy("sim-out", errors.outputTokens)}
              {...form.register("outputTokens")}
            />
          </Field>
          <Field id="sim-max" label="max_tokens" error={errors.maxTokens?.message}>
            <Input
              inputMode="numeric"
              placeholder="unset"
              {...describedBy("sim-max", errors.maxTokens)}
              {...form.register("maxTokens")}
            />
          </Field>
          <div className="flex items-end">
            <Button type="submit" className="w-full">
              <FlaskConical aria-hidden="true" />
              Simulate
            </Button>
          </div>
        </form>
        <div aria-live="polite" data-testid="sim-result">
          {result.isFetching ? (
            <Loading rows={1} />
          ) : result.isError ? (
            <ErrorState error={result.error} />
          ) : r ? (
            r.allowed ? (
              <div className="grid gap-2 rounded-md border border-success/40 bg-success/5 p-3 text-sm">
                <p className="flex items-center gap-2 font-medium text-success">
                  <CheckCircle2 className="size-4" aria-hidden="true" />
                  Allowed · {r.model} via {r.provider}
                </p>
                <dl className="grid grid-cols-2 gap-2 sm:grid-cols-4">
                  <div>
                    <dt className="text-xs text-muted-foreground">Reserved</dt>
                    <dd className="tabular-nums">{formatMoney(r.reservationUsd)}</dd>
                  </div>
                  <div>
                    <dt className="text-xs text-muted-foreground">Estimated cost</dt>
                    <dd className="tabular-nums">{formatMoney(r.estimatedCostUsd)}</dd>
                  </div>
                  <div>
                    <dt className="text-xs text-muted-foreground">Output bound</dt>
                    <dd className="tabular-nums">{r.outputBound.toLocaleString()}</dd>
                  </div>
                  <div>
                    <dt className="text-xs text-muted-foreground">Left after</dt>
                    <dd className="tabular-nums">
                      {r.remainingUsd === null ? "no limit" : formatMoney(r.remainingUsd)}
                    </dd>
                  </div>
                </dl>
                {r.shadowDenial ? (
                  <p className="text-sm">
                    Shadow mode: would have been <strong>{r.shadowDenial.code}</strong> (
                    {r.shadowDenial.rule}) — {r.shadowDenial.message}
                  </p>
                ) : null}
              </div>
            ) : (
              <div className="grid gap-1 rounded-md border border-destructive/40 bg-destructive/5 p-3 text-sm">
                <p className="flex items-center gap-2 font-medium text-destructive">
                  <XCircle className="size-4" aria-hidden="true" />
                  Denied · HTTP {r.error.status} · <code>{r.error.code}</code>
                </p>
                <p>
                  Rule: <strong>{r.error.rule}</strong>
                </p>
                <p className="text-muted-foreground">{r.error.message}</p>
              </div>
            )
          ) : null}
        </div>
      </CardContent>
    </Card>
  );
}

export function PolicyPage() {
  const { projectId, keyId } = useParams({ from: "/projects/$projectId/keys/$keyId/policy" });
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { canWrite } = useProjectRole(projectId);
  const key = useQuery(trpc.keys.get.queryOptions({ id: keyId }));
  const models = useQuery(trpc.models.list.queryOptions({ projectId, limit: 100 }));
  const providers = useQuery(trpc.providers.list.queryOptions({ projectId, limit: 100 }));
  const form = useZodForm(formSchema, { defaultValues: toForm({}) });
  const { reset } = form;
  const dirty = form.formState.isDirty;
  // A background refetch must not wipe what someone is typing: only an untouched form follows
  // the stored policy.
  useEffect(() => {
    if (key.data && !dirty) reset(toForm(key.data.policy));
  }, [key.data, dirty, reset]);

  if (key.isPending) return <Loading label="Loading the policy" rows={6} />;
  if (key.isError) return <ErrorState error={key.error} retry={() => key.refetch()} />;
  const modelIds = models.data?.items.map((m) => m.id) ?? [];
  const providerIds = providers.data?.items.map((p) => p.id) ?? [];
  const errors = form.formState.errors;
  const readOnly = !canWrite;

  const submit = form.handleSubmit(async (v) => {
    const policy = toPolicy(v);
    const checked = keyPolicySchema.safeParse(policy);
    if (!checked.success)
      return form.setError("root", {
        message: checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
      });
    try {
      await trpcClient.keys.update.mutate({ id: keyId, policy });
      await queryClient.invalidateQueries({ queryKey: trpc.keys.pathKey() });
      await queryClient.invalidateQueries({ queryKey: trpc.policy.pathKey() });
      // What was saved is the new baseline (after the refetch, so a stale copy cannot replace
      // it): the form is clean again and follows later changes.
      reset(v);
      toast.success(
        v.shadow
          ? "Policy saved in shadow mode: nothing is refused, would-be denials are counted."
          : "Policy saved and enforced.",
      );
    } catch (err) {
      form.setError("root", { message: errorMessage(err) });
    }
  });

  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm text-muted-foreground">
        <Link to="/projects/$projectId/keys" params={{ projectId }} className="hover:underline">
          API keys
        </Link>{" "}
        /{" "}
        <Link
          to="/projects/$projectId/keys/$keyId"
          params={{ projectId, keyId }}
          className="hover:underline"
        >
          {key.data.label}
        </Link>{" "}
        / Policy
      </nav>
      <h1 className="mb-5 text-2xl font-semibold tracking-tight">Policy of {key.data.label}</h1>
      <div className="grid gap-4 xl:grid-cols-[1fr_26rem]">
        <form onSubmit={submit} className="grid gap-4" noValidate>
          <fieldset disabled={readOnly} className="contents">
            <Card>
              <CardHeader>
                <div>
                  <CardTitle>Mode</CardTitle>
                  <CardDescription>
                    Shadow mode lets every request through and counts the ones this policy would
                    refuse.
                  </CardDescription>
                </div>
                <Controller
                  control={form.control}
                  name="shadow"
                  render={({ field }) => (
                    <label
                      className="flex items-center gap-2 text-sm font-medium"
                      htmlFor="policy-shadow"
                    >
                      <Switch
                        id="policy-shadow"
                        checked={field.value}
                        onCheckedChange={field.onChange}
                        disabled={readOnly}
                      />
                      Shadow mode
                    </label>
                  )}
                />
              </CardHeader>
            </Card>
            <Card>
              <CardHeader>
                <CardTitle>Models</CardTitle>
              </CardHeader>
              <CardContent className="grid gap-4 md:grid-cols-2">
                <Controller
                  control={form.control}
                  name="allowModels"
                  render={({ field }) => (
                    <PatternList
                      label="Allow only"
                      values={field.value}
                      onChange={field.onChange}
                      options={modelIds}
                      disabled={readOnly}
                    />
                  )}
                />
                <Controller
                  control={form.control}
                  name="blockModels"
                  render={({ field }) => (
                    <PatternList
                      label="Block"
                      values={field.value}
                      onChange={field.onChange}
                      options={modelIds}
                      disabled={readOnly}
                    />
                  )}
                />
              </CardContent>
            </Card>
            <Card>
              <CardHeader>
                <CardTitle>Providers and tiers</CardTitle>
              </CardHeader>
              <CardContent className="grid gap-4 md:grid-cols-2">
                {(["allowProviders", "blockProviders"] as const).map((name) => (
                  <Controller
                    key={name}
                    control={form.control}
                    name={name}
                    render={({ field }) => (
                      <PatternList
                        label={name === "allowProviders" ? "Allow providers" : "Block providers"}
                        values={field.value}
                        onChange={field.onChange}
                        options={providerIds}
                        disabled={readOnly}
                        preview={false}
                        placeholder={`Pick a provider, e.g. "${providerIds[0] ?? "openai"}"`}
                        validate={(v) => {
                          const r = slugSchema.safeParse(v);
                          return r.success ? null : r.error.issues[0]!.message;
                        }}
                      />
                    )}
                  />
                ))}
                <Controller
                  control={form.control}
                  name="tiers"
                  render={({ field }) => (
                    <fieldset className="grid gap-2">
                      <legend className="mb-1 text-sm font-medium">
                        Tiers (none checked: every tier)
                      </legend>
                      {tiers.map((t) => (
                        <label
                          key={t}
                          className="flex items-center gap-2 text-sm"
                          htmlFor={`tier-${t}`}
                        >
                          <Checkbox
                            id={`tier-${t}`}
                            disabled={readOnly}
                            checked={field.value.includes(t)}
                            onCheckedChange={(c) =>
                              field.onChange(
                                c ? [...field.value, t] : field.value.filter((x) => x !== t),
                              )
                            }
                          />
                          {t}
                        </label>
                      ))}
                    </fieldset>
                  )}
                />
              </CardContent>
            </Card>
            <Card>
              <CardHeader>
                <CardTitle>Limits</CardTitle>
              </CardHeader>
              <CardContent className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
                <Field
                  id="p-in"
                  label="Max input price (USD / 1M)"
                  error={errors.maxInputUsdPer1M?.message}
                >
                  <Input
                    inputMode="decimal"
                    {...describedBy("p-in", errors.maxInputUsdPer1M)}
                    {...form.register("maxInputUsdPer1M")}
                  />
                </Field>
                <Field
                  id="p-out"
                  label="Max output price (USD / 1M)"
                  error={errors.maxOutputUsdPer1M?.message}
                >
                  <Input
                    inputMode="decimal"
                    {...describedBy("p-out", errors.maxOutputUsdPer1M)}
                    {...form.register("maxOutputUsdPer1M")}
                  />
                </Field>
                <Field
                  id="p-max"
                  label="Max tokens per request"
                  error={errors.maxTokensPerRequest?.message}
                >
                  <Input
                    inputMode="numeric"
                    {...describedBy("p-max", errors.maxTokensPerRequest)}
                    {...form.register("maxTokensPerRequest")}
                  />
                </Field>
                <Field
                  id="p-rpm"
                  label="Requests per minute"
                  error={errors.requestsPerMinute?.message}
                >
                  <Input
                    inputMode="numeric"
                    {...describedBy("p-rpm", errors.requestsPerMinute)}
                    {...form.register("requestsPerMinute")}
                  />
                </Field>
                <Field id="p-tpm" label="Tokens per minute" error={errors.tokensPerMinute?.message}>
                  <Input
                    inputMode="numeric"
                    {...describedBy("p-tpm", errors.tokensPerMinute)}
                    {...form.register("tokensPerMinute")}
                  />
                </Field>
              </CardContent>
            </Card>
          </fieldset>
          <FormError message={errors.root?.message} />
          {canWrite ? (
            <div className="flex justify-end gap-2">
              <Button variant="outline" onClick={() => reset(toForm(key.data.policy))}>
                Discard changes
              </Button>
              <Button type="submit" disabled={form.formState.isSubmitting}>
                Save policy
              </Button>
            </div>
          ) : null}
        </form>
        <div className="grid content-start gap-4">
          <ShadowPanel keyId={keyId} shadow={key.data.policy.mode === "shadow"} />
          {modelIds.length ? (
            <Simulator keyId={keyId} models={modelIds} />
          ) : (
            <EmptyState title="No models in the catalog yet" />
          )}
        </div>
      </div>
    </>
  );
}
