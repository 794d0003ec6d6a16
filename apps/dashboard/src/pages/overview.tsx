import { parseUsd } from "@osm/policy/money";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "@tanstack/react-router";
import { startOfDay, startOfMonth } from "date-fns";
import { KeyBadges, SpendBar } from "../components/key-bits.tsx";
import { Card } from "../components/ui/card.tsx";
import { ListCard } from "../components/ui/list-card.tsx";
import { PageHeader } from "../components/ui/states.tsx";
import { formatMoney } from "../lib/money.ts";
import { useProjectRole } from "../lib/session.ts";
import { formatTime } from "../lib/time.ts";
import { useTRPC } from "../lib/trpc.ts";

function Stat({ label, value, sub }: { label: string; value: string; sub?: string }) {
  return (
    <Card className="p-4">
      <p className="text-xs text-muted-foreground">{label}</p>
      <p className="text-2xl font-semibold tabular-nums">{value}</p>
      {sub ? <p className="text-xs text-muted-foreground">{sub}</p> : null}
    </Card>
  );
}

export function OverviewPage() {
  const { projectId } = useParams({ from: "/projects/$projectId/" });
  const trpc = useTRPC();
  const { project, isAdmin } = useProjectRole(projectId);
  const today = useQuery({
    ...trpc.usage.summary.queryOptions({ projectId, from: startOfDay(new Date()) }),
    refetchInterval: 10_000,
  });
  const month = useQuery(
    trpc.usage.summary.queryOptions({ projectId, from: startOfMonth(new Date()) }),
  );
  // Shadow denials are allowed requests, so the rollups do not count them: the log does.
  const shadowed = useQuery({
    ...trpc.logs.list.queryOptions({
      projectId,
      outcome: "shadow_denied",
      from: startOfDay(new Date()),
      limit: 100,
    }),
    refetchInterval: 10_000,
  });
  const keys = useQuery(trpc.keys.list.queryOptions({ projectId, limit: 100, sort: "spend" }));
  const alerts = useQuery({
    ...trpc.alerts.deliveries.queryOptions({ projectId, limit: 5 }),
    enabled: isAdmin,
  });
  const labels = new Map(keys.data?.items.map((k) => [k.id, k.label]));
  const nanos = (usd: string) => parseUsd(usd) ?? 0n;
  const top = [...(month.data?.byKey ?? [])]
    .sort((a, b) =>
      nanos(a.costUsd) < nanos(b.costUsd) ? 1 : nanos(a.costUsd) > nanos(b.costUsd) ? -1 : 0,
    )
    .slice(0, 5);
  const limited =
    keys.data?.items.filter((k) => k.spendLimitUsd && k.status !== "revoked").slice(0, 5) ?? [];
  const shadowKeys = keys.data?.items.filter((k) => k.policy.mode === "shadow").length ?? 0;
  return (
    <>
      <PageHeader
        title={project.data?.name ?? "Overview"}
        description="Today and this month at a glance."
      />
      <div className="grid grid-cols-2 gap-3 lg:grid-cols-5">
        <Stat
          label="Spend today"
          value={today.data ? formatMoney(today.data.overall.costUsd) : "…"}
          sub={month.data ? `${formatMoney(month.data.overall.costUsd)} this month` : undefined}
        />
        <Stat
          label="Requests today"
          value={today.data ? today.data.overall.requests.toLocaleString() : "…"}
          sub={
            month.data ? `${month.data.overall.requests.toLocaleString()} this month` : undefined
          }
        />
        <Stat
          label="Denied today"
          value={today.data ? today.data.overall.denied.toLocaleString() : "…"}
          sub="enforced policy, limits and key state"
        />
        <Stat
          label="Shadow-denied today"
          value={
            shadowed.data
              ? `${shadowed.data.items.length}${shadowed.data.nextCursor ? "+" : ""}`
              : "…"
          }
          sub="allowed, but a shadow policy would refuse"
        />
        <Stat
          label="Keys in shadow mode"
          value={String(shadowKeys)}
          sub="see each key's shadow report"
        />
      </div>
      <div className="mt-4 grid gap-4 lg:grid-cols-2">
        <ListCard
          title="Top keys this month"
          query={month}
          isEmpty={() => top.length === 0}
          empty="No spend this month"
        >
          {() => (
            <ol className="grid gap-2 p-4 pt-0">
              {top.map((k) => (
                <li key={k.keyId} className="flex justify-between gap-2 text-sm">
                  <Link
                    to="/projects/$projectId/keys/$keyId"
                    params={{ projectId, keyId: k.keyId }}
                    className="truncate hover:underline"
                  >
                    {labels.get(k.keyId) ?? k.keyId}
                  </Link>
                  <span className="tabular-nums">
                    {formatMoney(k.costUsd)} · {k.requests.toLocaleString()} req
                  </span>
                </li>
              ))}
            </ol>
          )}
        </ListCard>
        <ListCard
          title="Limits this period"
          query={keys}
          isEmpty={() => limited.length === 0}
          empty="No key has a spending limit"
        >
          {() => (
            <ul className="grid gap-3 p-4 pt-0">
              {limited.map((k) => (
                <li key={k.id} className="flex flex-wrap items-center justify-between gap-2">
                  <div className="grid gap-1">
                    <Link
                      to="/projects/$projectId/keys/$keyId"
                      params={{ projectId, keyId: k.id }}
                      className="text-sm font-medium hover:underline"
                    >
                      {k.label}
                    </Link>
                    <KeyBadges k={k} />
                  </div>
                  <SpendBar k={k} />
                </li>
              ))}
            </ul>
          )}
        </ListCard>
      </div>
      {isAdmin ? (
        <ListCard
          className="mt-4"
          title="Recent alerts"
          query={alerts}
          isEmpty={(d) => d.items.length === 0}
          empty="No alerts sent"
        >
          {(data) => (
            <ul className="grid gap-1 p-4 pt-0 text-sm">
              {data.items.map((a) => (
                <li key={a.id} className="flex justify-between gap-2">
                  <span>
                    {labels.get(a.keyId) ?? a.keyId} reached {a.threshold}%
                  </span>
                  <span className="text-xs text-muted-foreground">
                    {a.status} · {formatTime(a.createdAt)}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </ListCard>
      ) : null}
    </>
  );
}
