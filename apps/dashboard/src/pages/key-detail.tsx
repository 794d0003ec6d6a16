import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams, useSearch } from "@tanstack/react-router";
import { Ban, Pause, Play, RefreshCw, RotateCcw, ShieldCheck } from "lucide-react";
import { useEffect, useState } from "react";
import { toast } from "sonner";
import { KeyBadges, RuleChips, SpendBar } from "../components/key-bits.tsx";
import { OutcomeBadge, tokens, why } from "../components/log-table.tsx";
import { SecretReveal } from "../components/secret-reveal.tsx";
import { Button } from "../components/ui/button.tsx";
import {
  Card,
  CardContent,
  CardDescription,
  CardHeader,
  CardTitle,
} from "../components/ui/card.tsx";
import { Segmented } from "../components/ui/controls.tsx";
import { ConfirmDialog, Dialog, DialogContent } from "../components/ui/dialog.tsx";
import { Field, Input, Label } from "../components/ui/input.tsx";
import { EmptyState, ErrorState, Loading } from "../components/ui/states.tsx";
import { Table, TBody, Td, THead, Th, Tr } from "../components/ui/table.tsx";
import {
  type Metric,
  type Range,
  rangeQuery,
  ranges,
  UsageChart,
} from "../components/usage-chart.tsx";
import { formatMoney } from "../lib/money.ts";
import { useProjectRole } from "../lib/session.ts";
import { formatTime, formatTimeSeconds, relative, zoneName } from "../lib/time.ts";
import { errorMessage, trpcClient, useTRPC } from "../lib/trpc.ts";

const graces = [
  { value: "0", label: "Immediately" },
  { value: "3600", label: "1 hour" },
  { value: "86400", label: "24 hours" },
  { value: "604800", label: "7 days" },
  { value: "custom", label: "Custom" },
];

function useCountdown(until: Date | null | undefined) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!until) return;
    // From now, not from when the page mounted: a grace that starts later must not count stale.
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [until]);
  if (!until) return null;
  const s = Math.max(0, Math.floor((until.getTime() - now) / 1000));
  const d = Math.floor(s / 86400);
  const hms = [Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60]
    .map((n) => String(n).padStart(2, "0"))
    .join(":");
  return d > 0 ? `${d}d ${hms}` : hms;
}

function RotateDialog({
  keyId,
  open,
  onOpenChange,
  onSecret,
}: {
  keyId: string;
  open: boolean;
  onOpenChange: (o: boolean) => void;
  onSecret: (s: string) => void;
}) {
  const [grace, setGrace] = useState("3600");
  const [customHours, setCustomHours] = useState("48");
  const [busy, setBusy] = useState(false);
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const seconds = grace === "custom" ? Math.round(Number(customHours) * 3600) : Number(grace);
  const valid = Number.isFinite(seconds) && seconds >= 0 && seconds <= 30 * 86400;
  async function rotate() {
    setBusy(true);
    try {
      const r = await trpcClient.keys.rotate.mutate({
        id: keyId,
        gracePeriodSeconds: seconds,
        idempotencyKey: crypto.randomUUID(),
      });
      await queryClient.invalidateQueries({ queryKey: trpc.keys.pathKey() });
      onOpenChange(false);
      onSecret(r.secret);
    } catch (err) {
      toast.error(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent
        title="Rotate key"
        description="A new secret replaces the current one. During the grace period both work, so you can deploy the new one first."
      >
        <fieldset className="grid gap-2">
          <legend className="mb-1 text-sm font-medium">Old secret keeps working for</legend>
          {graces.map((g) => (
            <label key={g.value} className="flex items-center gap-2 text-sm">
              <input
                type="radio"
                name="grace"
                value={g.value}
                checked={grace === g.value}
                onChange={() => setGrace(g.value)}
                className="accent-[var(--color-primary)]"
              />
              {g.label}
            </label>
          ))}
        </fieldset>
        {grace === "custom" ? (
          <Field
            id="grace-hours"
            label="Hours (up to 720)"
            error={valid ? undefined : "Between 0 and 720 hours"}
          >
            <Input
              id="grace-hours"
              inputMode="decimal"
              value={customHours}
              onChange={(e) => setCustomHours(e.target.value)}
            />
          </Field>
        ) : null}
        <div className="flex justify-end gap-2">
          <Button variant="outline" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button onClick={rotate} disabled={!valid || busy}>
            Rotate key
          </Button>
        </div>
      </DialogContent>
    </Dialog>
  );
}

export function KeyDetailPage() {
  const { projectId, keyId } = useParams({ from: "/projects/$projectId/keys/$keyId" });
  const search = useSearch({ from: "/projects/$projectId/keys/$keyId" });
  const navigate = useNavigate({ from: "/projects/$projectId/keys/$keyId" });
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { canWrite, isAdmin } = useProjectRole(projectId);
  const range: Range = search.range ?? "24h";
  const [metric, setMetric] = useState<Metric>("requests");
  const [rotating, setRotating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [revoking, setRevoking] = useState(false);
  const [typed, setTyped] = useState("");
  const [resetting, setResetting] = useState(false);

  // Live figures: spend and reservations refresh every second without a reload.
  const key = useQuery({ ...trpc.keys.get.queryOptions({ id: keyId }), refetchInterval: 1000 });
  const rq = rangeQuery(range);
  const usage = useQuery({
    ...trpc.usage.timeseries.queryOptions({ projectId, keyId, bucket: rq.bucket, from: rq.from }),
    refetchInterval: 5000,
  });
  const recent = useQuery({
    ...trpc.logs.list.queryOptions({ projectId, keyId, limit: 10 }),
    refetchInterval: 2000,
  });
  const denials = useQuery({
    ...trpc.logs.list.queryOptions({ projectId, keyId, outcome: "denied", limit: 10 }),
    refetchInterval: 2000,
  });
  // The rollups land in the same transaction as the log row: once a new request is listed, the
  // chart has it too, so it refetches then instead of waiting for its own interval.
  const newest = recent.data?.items[0]?.requestId;
  useEffect(() => {
    if (newest) void queryClient.invalidateQueries({ queryKey: trpc.usage.timeseries.pathKey() });
  }, [newest, queryClient, trpc]);
  const audit = useQuery(trpc.audit.list.queryOptions({ projectId, targetId: keyId, limit: 20 }));
  const countdown = useCountdown(key.data?.rotation?.graceUntil);

  if (key.isPending) return <Loading label="Loading the key" rows={6} />;
  if (key.isError) return <ErrorState error={key.error} retry={() => key.refetch()} />;
  const k = key.data;
  const live = k.status !== "revoked";

  async function act(label: string, call: () => Promise<unknown>) {
    try {
      await call();
      await queryClient.invalidateQueries({ queryKey: trpc.keys.pathKey() });
      await queryClient.invalidateQueries({ queryKey: trpc.audit.pathKey() });
      toast.success(label);
    } catch (err) {
      toast.error(errorMessage(err));
    }
  }

  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm text-muted-foreground">
        <Link to="/projects/$projectId/keys" params={{ projectId }} className="hover:underline">
          API keys
        </Link>{" "}
        / <span>{k.label}</span>
      </nav>
      <div className="mb-5 flex flex-wrap items-start justify-between gap-3">
        <div className="grid gap-1">
          <h1 className="text-2xl font-semibold tracking-tight">{k.label}</h1>
          <code className="font-mono text-sm text-muted-foreground">{k.display}</code>
          <KeyBadges k={k} />
        </div>
        <div className="flex flex-wrap gap-2">
          <Button variant="outline" asChild>
            <Link to="/projects/$projectId/keys/$keyId/policy" params={{ projectId, keyId }}>
              <ShieldCheck aria-hidden="true" />
              {canWrite ? "Edit policy" : "View policy"}
            </Link>
          </Button>
          {canWrite && live ? (
            <>
              <Button variant="outline" onClick={() => setRotating(true)}>
                <RefreshCw aria-hidden="true" />
                Rotate
              </Button>
              {k.enabled ? (
                <Button
                  variant="outline"
                  onClick={() =>
                    act(`${k.label} deactivated.`, () =>
                      trpcClient.keys.setActive.mutate({ id: keyId, active: false }),
                    )
                  }
                >
                  <Pause aria-hidden="true" />
                  Deactivate
                </Button>
              ) : (
                <Button
                  variant="outline"
                  onClick={() =>
                    act(`${k.label} activated.`, () =>
                      trpcClient.keys.setActive.mutate({ id: keyId, active: true }),
                    )
                  }
                >
                  <Play aria-hidden="true" />
                  Activate
                </Button>
              )}
              <Button variant="destructive" onClick={() => setRevoking(true)}>
                <Ban aria-hidden="true" />
                Revoke
              </Button>
            </>
          ) : null}
        </div>
      </div>

      <div className="grid gap-4 lg:grid-cols-3">
        <Card className="lg:col-span-2">
          <CardHeader>
            <div>
              <CardTitle>Spend</CardTitle>
              <CardDescription>Live from the gateway's counters.</CardDescription>
            </div>
            {isAdmin && live && k.spendLimitUsd ? (
              <Button size="sm" variant="outline" onClick={() => setResetting(true)}>
                <RotateCcw aria-hidden="true" />
                Reset spend
              </Button>
            ) : null}
          </CardHeader>
          <CardContent className="grid gap-4">
            <dl className="grid grid-cols-2 gap-4 sm:grid-cols-4" aria-live="polite">
              <div>
                <dt className="text-xs text-muted-foreground">This period</dt>
                <dd data-testid="spend" className="text-xl font-semibold tabular-nums">
                  {formatMoney(k.spendUsd)}
                </dd>
              </div>
              <div>
                <dt className="text-xs text-muted-foreground">Reserved now</dt>
                <dd data-testid="reserved" className="text-xl font-semibold tabular-nums">
                  {formatMoney(k.reservedUsd)}
                </dd>
              </div>
              <div>
                <dt className="text-xs text-muted-foreground">Limit</dt>
                <dd className="text-xl font-semibold tabular-nums">
                  {k.spendLimitUsd ? formatMoney(k.spendLimitUsd) : "None"}
                </dd>
              </div>
              <div>
                <dt className="text-xs text-muted-foreground">Lifetime</dt>
                <dd className="text-xl font-semibold tabular-nums">
                  {formatMoney(k.lifetimeSpendUsd)}
                </dd>
              </div>
            </dl>
            {k.spendLimitUsd ? <SpendBar k={k} wide /> : null}
          </CardContent>
        </Card>
        <Card>
          <CardHeader>
            <CardTitle>Details</CardTitle>
          </CardHeader>
          <CardContent>
            <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-2 text-sm">
              <dt className="text-muted-foreground">Rules</dt>
              <dd>
                <RuleChips policy={k.policy} />
              </dd>
              <dt className="text-muted-foreground">Last used</dt>
              <dd>{relative(k.lastUsedAt)}</dd>
              <dt className="text-muted-foreground">Expires</dt>
              <dd>{formatTime(k.expiresAt)}</dd>
              <dt className="text-muted-foreground">Created</dt>
              <dd>{formatTime(k.createdAt)}</dd>
            </dl>
            {k.rotation ? (
              <div
                className="mt-3 grid gap-2 rounded-md border border-primary/30 bg-accent p-3 text-sm"
                role="status"
              >
                <p>
                  The previous secret still works for{" "}
                  <strong className="tabular-nums" data-testid="grace-countdown">
                    {countdown}
                  </strong>{" "}
                  (until {formatTime(k.rotation.graceUntil)}).
                </p>
                {canWrite ? (
                  <Button
                    size="sm"
                    variant="outline"
                    onClick={() =>
                      act("Grace ended: the old secret no longer works.", () =>
                        trpcClient.keys.endGrace.mutate({ id: keyId }),
                      )
                    }
                  >
                    End grace now
                  </Button>
                ) : null}
              </div>
            ) : null}
          </CardContent>
        </Card>
      </div>

      <Card className="mt-4">
        <CardHeader>
          <div>
            <CardTitle>Usage by model</CardTitle>
            <CardDescription>Times in {zoneName}.</CardDescription>
          </div>
          <div className="flex flex-wrap gap-2">
            <Segmented
              label="Metric"
              value={metric}
              onChange={setMetric}
              options={[
                ["requests", "Requests"],
                ["tokens", "Tokens"],
                ["cost", "Cost"],
              ]}
            />
            <Segmented
              label="Range"
              value={range}
              onChange={(r) => navigate({ search: { range: r }, replace: true })}
              options={ranges}
            />
          </div>
        </CardHeader>
        <CardContent>
          {usage.isPending ? (
            <Loading rows={4} />
          ) : usage.isError ? (
            <ErrorState error={usage.error} />
          ) : usage.data.points.length === 0 ? (
            <EmptyState title="No usage in this range" />
          ) : (
            <UsageChart
              points={usage.data.points}
              metric={metric}
              bucket={rq.bucket}
              label={`${metric} by model over ${range}`}
            />
          )}
        </CardContent>
      </Card>

      <div className="mt-4 grid gap-4 lg:grid-cols-2">
        <Card>
          <CardHeader>
            <CardTitle>Recent requests</CardTitle>
            <Link
              to="/projects/$projectId/logs"
              params={{ projectId }}
              search={{ keyId }}
              className="text-sm text-primary hover:underline"
            >
              All logs
            </Link>
          </CardHeader>
          <CardContent className="p-0">
            {recent.isPending ? (
              <Loading />
            ) : recent.data?.items.length ? (
              <Table aria-label="Recent requests">
                <THead>
                  <tr>
                    <Th>Time</Th>
                    <Th>Model</Th>
                    <Th>Outcome</Th>
                    <Th>Tokens</Th>
                    <Th className="text-right">Cost</Th>
                  </tr>
                </THead>
                <TBody>
                  {recent.data.items.map((r) => (
                    <Tr key={r.requestId} data-testid="recent-request">
                      <Td className="whitespace-nowrap text-xs">
                        {formatTimeSeconds(r.admittedAt)}
                      </Td>
                      <Td className="font-mono text-xs">{r.model ?? "—"}</Td>
                      <Td>
                        <OutcomeBadge row={r} />
                      </Td>
                      <Td className="whitespace-nowrap text-xs tabular-nums">{tokens(r)}</Td>
                      <Td className="text-right text-xs tabular-nums">{formatMoney(r.costUsd)}</Td>
                    </Tr>
                  ))}
                </TBody>
              </Table>
            ) : (
              <div className="p-4">
                <EmptyState title="No requests yet" />
              </div>
            )}
          </CardContent>
        </Card>
        <Card>
          <CardHeader>
            <CardTitle>Denials</CardTitle>
          </CardHeader>
          <CardContent className="p-0">
            {denials.isPending ? (
              <Loading />
            ) : denials.data?.items.length ? (
              <ul className="divide-y">
                {denials.data.items.map((r) => (
                  <li key={r.requestId} className="grid gap-1 px-4 py-2 text-sm">
                    <div className="flex flex-wrap items-center gap-2">
                      <OutcomeBadge row={r} />
                      <span className="font-mono text-xs">{r.model}</span>
                      <span className="text-xs text-muted-foreground">
                        {formatTimeSeconds(r.admittedAt)}
                      </span>
                    </div>
                    {r.code && why[r.code] ? (
                      <p className="text-xs text-muted-foreground">{why[r.code]}</p>
                    ) : null}
                  </li>
                ))}
              </ul>
            ) : (
              <div className="p-4">
                <EmptyState title="No denials" />
              </div>
            )}
          </CardContent>
        </Card>
      </div>

      <Card className="mt-4">
        <CardHeader>
          <CardTitle>Audit trail</CardTitle>
        </CardHeader>
        <CardContent className="p-0">
          {audit.isPending ? (
            <Loading />
          ) : audit.data?.items.length ? (
            <ul className="divide-y text-sm">
              {audit.data.items.map((a) => (
                <li key={a.id} className="flex flex-wrap justify-between gap-2 px-4 py-2">
                  <span className="font-mono text-xs">{a.action}</span>
                  <span className="text-xs text-muted-foreground">
                    {a.actorType}
                    {a.actorId ? ` ${a.actorId}` : ""} · {formatTime(a.createdAt)}
                  </span>
                </li>
              ))}
            </ul>
          ) : (
            <div className="p-4">
              <EmptyState title="No changes recorded" />
            </div>
          )}
        </CardContent>
      </Card>

      <RotateDialog keyId={keyId} open={rotating} onOpenChange={setRotating} onSecret={setSecret} />
      <SecretReveal
        secret={secret}
        title="Your rotated key"
        description="Deploy this secret; the old one works until the grace period ends."
        onClose={() => setSecret(null)}
      />
      <ConfirmDialog
        open={revoking}
        onOpenChange={(o) => {
          setRevoking(o);
          setTyped("");
        }}
        title={`Revoke ${k.label}?`}
        description="Revoking is permanent: every request with this key is refused from now on. Type the key's label to confirm."
        confirmLabel="Revoke key"
        destructive
        disabled={typed !== k.label}
        onConfirm={() =>
          act(`${k.label} revoked.`, () => trpcClient.keys.revoke.mutate({ id: keyId }))
        }
      >
        <div className="grid gap-1.5">
          <Label htmlFor="revoke-confirm">Key label</Label>
          <Input
            id="revoke-confirm"
            autoComplete="off"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
          />
        </div>
      </ConfirmDialog>
      <ConfirmDialog
        open={resetting}
        onOpenChange={setResetting}
        title="Reset this period's spend?"
        description="The key starts again from $0.00 in the current period, which lets it spend its whole limit again."
        confirmLabel="Reset spend"
        onConfirm={() =>
          act("Spend reset.", () => trpcClient.keys.resetSpend.mutate({ id: keyId }))
        }
      />
    </>
  );
}
