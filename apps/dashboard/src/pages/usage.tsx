import { formatUsd, parseUsd } from "@osm/policy/money";
import { useQuery } from "@tanstack/react-query";
import { useNavigate, useParams, useSearch } from "@tanstack/react-router";
import { Download } from "lucide-react";
import { Button } from "../components/ui/button.tsx";
import { Card, CardContent, CardHeader, CardTitle } from "../components/ui/card.tsx";
import { Checkbox, Segmented } from "../components/ui/controls.tsx";
import { EmptyState, ErrorState, Loading, PageHeader } from "../components/ui/states.tsx";
import { Table, TBody, Td, THead, Th, Tr } from "../components/ui/table.tsx";
import {
  type Metric,
  type Range,
  rangeQuery,
  ranges,
  type SeriesPoint,
  UsageChart,
} from "../components/usage-chart.tsx";
import { formatMoney } from "../lib/money.ts";
import { zoneName } from "../lib/time.ts";
import { useTRPC } from "../lib/trpc.ts";

function csv(points: SeriesPoint[], names: (s: string) => string): string {
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  const lines = ["bucket_start,series,requests,input_tokens,output_tokens,cost_usd"];
  for (const p of points) {
    lines.push(
      [
        p.bucketStart.toISOString(),
        quote(names(p.series)),
        p.requests,
        p.inputTokens,
        p.outputTokens,
        p.costUsd,
      ].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

type Total = { series: string; requests: number; tokens: number; nanos: bigint };

/** Each series' sums over the range: the chart's figures as a table people and tests can read. */
function totals(points: SeriesPoint[]): Total[] {
  const by = new Map<string, Total>();
  for (const p of points) {
    const t = by.get(p.series) ?? { series: p.series, requests: 0, tokens: 0, nanos: 0n };
    t.requests += p.requests;
    t.tokens += p.inputTokens + p.outputTokens;
    t.nanos += parseUsd(p.costUsd) ?? 0n;
    by.set(p.series, t);
  }
  return [...by.values()].sort((a, b) => (a.nanos < b.nanos ? 1 : a.nanos > b.nanos ? -1 : 0));
}

export function UsagePage() {
  const { projectId } = useParams({ from: "/projects/$projectId/usage" });
  const search = useSearch({ from: "/projects/$projectId/usage" });
  const navigate = useNavigate({ from: "/projects/$projectId/usage" });
  const trpc = useTRPC();
  const range: Range = search.range ?? "7d";
  const groupBy = search.groupBy ?? "model";
  const metric: Metric = search.metric ?? "cost";
  const compare = search.keys ?? [];
  const rq = rangeQuery(range);
  const keys = useQuery(trpc.keys.list.queryOptions({ projectId, limit: 100 }));
  const series = useQuery(
    trpc.usage.timeseries.queryOptions({
      projectId,
      bucket: rq.bucket,
      from: rq.from,
      groupBy: compare.length ? "key" : groupBy,
      keyIds: compare.length ? compare : undefined,
    }),
  );
  const summary = useQuery(trpc.usage.summary.queryOptions({ projectId, from: rq.from }));
  const labels = new Map(keys.data?.items.map((k) => [k.id, k.label]));
  const names = (s: string) =>
    compare.length || groupBy === "key" ? (labels.get(s) ?? s) : s || "(unknown)";
  const set = (patch: Partial<typeof search>) =>
    navigate({ search: (s) => ({ ...s, ...patch }), replace: true });

  function download() {
    if (!series.data) return;
    const url = URL.createObjectURL(
      new Blob([csv(series.data.points, names)], { type: "text/csv" }),
    );
    const a = document.createElement("a");
    a.href = url;
    a.download = `osm-usage-${range}-${compare.length ? "keys" : groupBy}.csv`;
    a.click();
    URL.revokeObjectURL(url);
  }

  const o = summary.data?.overall;
  const stackedBy = compare.length ? "key" : groupBy;
  return (
    <>
      <PageHeader
        title="Usage"
        description={`From the hourly and daily rollups, so ranges beyond the log retention stay exact. Times in ${zoneName}.`}
        actions={
          <Button variant="outline" onClick={download} disabled={!series.data?.points.length}>
            <Download aria-hidden="true" />
            Export CSV
          </Button>
        }
      />
      <div className="mb-4 grid grid-cols-2 gap-3 md:grid-cols-4">
        {[
          ["Spend", o ? formatMoney(o.costUsd) : "…"],
          ["Requests", o ? o.requests.toLocaleString() : "…"],
          ["Denied", o ? o.denied.toLocaleString() : "…"],
          ["Tokens", o ? (o.inputTokens + o.outputTokens).toLocaleString() : "…"],
        ].map(([label, value]) => (
          <Card key={label} className="p-4">
            <p className="text-xs text-muted-foreground">
              {label} · {range}
            </p>
            <p className="text-xl font-semibold tabular-nums">{value}</p>
          </Card>
        ))}
      </div>
      <Card>
        <CardHeader>
          <CardTitle>Over time</CardTitle>
          <div className="flex flex-wrap gap-2">
            <Segmented
              label="Metric"
              value={metric}
              onChange={(m) => set({ metric: m })}
              options={[
                ["cost", "Spend"],
                ["tokens", "Tokens"],
                ["requests", "Requests"],
              ]}
            />
            <Segmented
              label="Stack by"
              value={compare.length ? "key" : groupBy}
              onChange={(g) => set({ groupBy: g, keys: undefined })}
              options={[
                ["model", "Model"],
                ["key", "Key"],
                ["provider", "Provider"],
              ]}
            />
            <Segmented
              label="Range"
              value={range}
              onChange={(r) => set({ range: r })}
              options={ranges}
            />
          </div>
        </CardHeader>
        <CardContent>
          {series.isPending ? (
            <Loading rows={5} />
          ) : series.isError ? (
            <ErrorState error={series.error} retry={() => series.refetch()} />
          ) : series.data.points.length === 0 ? (
            <EmptyState title="No usage in this range" />
          ) : (
            <>
              <UsageChart
                points={series.data.points}
                metric={metric}
                bucket={rq.bucket}
                names={names}
                label={`${metric} stacked by ${stackedBy}`}
              />
              <Table aria-label={`Totals by ${stackedBy}`} className="mt-4">
                <THead>
                  <tr>
                    <Th className="capitalize">{stackedBy}</Th>
                    <Th className="text-right">Requests</Th>
                    <Th className="text-right">Tokens</Th>
                    <Th className="text-right">Spend</Th>
                  </tr>
                </THead>
                <TBody>
                  {totals(series.data.points).map((t) => (
                    <Tr key={t.series}>
                      <Td>{names(t.series)}</Td>
                      <Td className="text-right tabular-nums">{t.requests.toLocaleString()}</Td>
                      <Td className="text-right tabular-nums">{t.tokens.toLocaleString()}</Td>
                      <Td className="text-right tabular-nums">{formatMoney(formatUsd(t.nanos))}</Td>
                    </Tr>
                  ))}
                </TBody>
              </Table>
            </>
          )}
        </CardContent>
      </Card>
      <Card className="mt-4">
        <CardHeader>
          <CardTitle>Compare keys</CardTitle>
        </CardHeader>
        <CardContent>
          {keys.data?.items.length ? (
            <fieldset className="flex flex-wrap gap-x-5 gap-y-2">
              <legend className="sr-only">Keys to compare</legend>
              {keys.data.items.map((k) => (
                <label
                  key={k.id}
                  className="flex items-center gap-2 text-sm"
                  htmlFor={`cmp-${k.id}`}
                >
                  <Checkbox
                    id={`cmp-${k.id}`}
                    checked={compare.includes(k.id)}
                    onCheckedChange={(c) => {
                      const next = c
                        ? [...compare, k.id].slice(0, 20)
                        : compare.filter((x) => x !== k.id);
                      set({ keys: next.length ? next : undefined });
                    }}
                  />
                  {k.label}
                </label>
              ))}
            </fieldset>
          ) : (
            <p className="text-sm text-muted-foreground">No keys yet.</p>
          )}
        </CardContent>
      </Card>
    </>
  );
}
