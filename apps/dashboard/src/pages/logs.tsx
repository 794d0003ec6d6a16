import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { Link, useNavigate, useParams, useSearch } from "@tanstack/react-router";
import { type ColumnDef, flexRender, getCoreRowModel, useReactTable } from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { Filter, ShieldAlert } from "lucide-react";
import { useEffect, useMemo, useRef } from "react";
import { type LogRow, OutcomeBadge, tokens, why } from "../components/log-table.tsx";
import { Button } from "../components/ui/button.tsx";
import { Card } from "../components/ui/card.tsx";
import { Dialog, DialogContent } from "../components/ui/dialog.tsx";
import { Input, NativeSelect } from "../components/ui/input.tsx";
import { EmptyState, ErrorState, Loading, PageHeader } from "../components/ui/states.tsx";
import { rangeHours } from "../components/usage-chart.tsx";
import { formatMoney } from "../lib/money.ts";
import { formatTimeSeconds, zoneName } from "../lib/time.ts";
import { useTRPC } from "../lib/trpc.ts";

const columns: ColumnDef<LogRow>[] = [
  {
    id: "time",
    header: "Time",
    cell: ({ row }) => (
      <span className="whitespace-nowrap text-xs tabular-nums">
        {formatTimeSeconds(row.original.admittedAt)}
      </span>
    ),
  },
  {
    id: "key",
    header: "Key",
    cell: ({ row }) => (
      <span className="text-xs">{row.original.keyLabel ?? row.original.keyId}</span>
    ),
  },
  {
    id: "model",
    header: "Model",
    cell: ({ row }) => <span className="font-mono text-xs">{row.original.model ?? "—"}</span>,
  },
  {
    id: "provider",
    header: "Provider",
    cell: ({ row }) => <span className="text-xs">{row.original.provider ?? "—"}</span>,
  },
  { id: "outcome", header: "Outcome", cell: ({ row }) => <OutcomeBadge row={row.original} /> },
  {
    id: "tokens",
    header: "Tokens",
    cell: ({ row }) => (
      <span className="whitespace-nowrap text-xs tabular-nums">{tokens(row.original)}</span>
    ),
  },
  {
    id: "cost",
    header: "Cost",
    cell: ({ row }) => (
      <span className="text-xs tabular-nums">{formatMoney(row.original.costUsd)}</span>
    ),
  },
  {
    id: "latency",
    header: "Latency",
    cell: ({ row }) => <span className="text-xs tabular-nums">{row.original.latencyMs} ms</span>,
  },
];

const rowHeight = 41;

export function LogsPage() {
  const { projectId } = useParams({ from: "/projects/$projectId/logs" });
  const search = useSearch({ from: "/projects/$projectId/logs" });
  const navigate = useNavigate({ from: "/projects/$projectId/logs" });
  const trpc = useTRPC();
  const keys = useQuery(trpc.keys.list.queryOptions({ projectId, limit: 100 }));
  const from = useMemo(
    () => (search.range ? new Date(Date.now() - rangeHours[search.range] * 3600_000) : undefined),
    [search.range],
  );
  const input = {
    projectId,
    keyId: search.keyId,
    outcome: search.outcome,
    code: search.code || undefined,
    model: search.model || undefined,
    from,
    limit: 100,
  };
  const logs = useInfiniteQuery({
    ...trpc.logs.list.infiniteQueryOptions(input, {
      getNextPageParam: (p) => p.nextCursor ?? undefined,
    }),
    refetchInterval: 3000,
  });
  const rows = useMemo(() => logs.data?.pages.flatMap((p) => p.items) ?? [], [logs.data]);
  const table = useReactTable({
    data: rows,
    columns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (r) => r.requestId,
  });
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => rowHeight,
    overscan: 12,
  });
  const items = virtual.getVirtualItems();
  const top = items[0]?.start ?? 0;
  const bottom = virtual.getTotalSize() - (items.at(-1)?.end ?? 0);
  const lastShown = items.at(-1)?.index ?? -1;
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = logs;
  // Older pages load as the window nears the end, so scrolling alone reaches every request.
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && lastShown >= rows.length - 20) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage, lastShown, rows.length]);
  const selected = rows.find((r) => r.requestId === search.request);
  const set = (patch: Partial<typeof search>) =>
    navigate({ search: (s) => ({ ...s, ...patch }), replace: true });
  const savedDenied =
    search.outcome === "denied" &&
    search.range === "24h" &&
    !search.keyId &&
    !search.code &&
    !search.model;

  return (
    <>
      <PageHeader
        title="Logs"
        description={`Every request of the project, newest first. Times in ${zoneName}.`}
        actions={
          <Button
            variant={savedDenied ? "default" : "outline"}
            onClick={() => navigate({ search: { outcome: "denied", range: "24h" } })}
          >
            <ShieldAlert aria-hidden="true" />
            Denied, last 24 h
          </Button>
        }
      />
      <fieldset className="mb-3 flex flex-wrap items-end gap-2">
        <legend className="sr-only">Filters</legend>
        <Filter className="mb-2.5 size-4 text-muted-foreground" aria-hidden="true" />
        <NativeSelect
          aria-label="Key"
          className="w-auto"
          value={search.keyId ?? ""}
          onChange={(e) => set({ keyId: e.target.value || undefined })}
        >
          <option value="">All keys</option>
          {keys.data?.items.map((k) => (
            <option key={k.id} value={k.id}>
              {k.label}
            </option>
          ))}
        </NativeSelect>
        <NativeSelect
          aria-label="Outcome"
          className="w-auto"
          value={search.outcome ?? ""}
          onChange={(e) => set({ outcome: (e.target.value || undefined) as typeof search.outcome })}
        >
          <option value="">Any outcome</option>
          <option value="allowed">Allowed</option>
          <option value="denied">Denied</option>
          <option value="shadow_denied">Shadow-denied</option>
          <option value="error">Upstream error</option>
        </NativeSelect>
        <Input
          aria-label="Error code"
          placeholder="Code, e.g. model_not_allowed"
          className="w-56"
          defaultValue={search.code ?? ""}
          onBlur={(e) => set({ code: e.target.value || undefined })}
          onKeyDown={(e) => e.key === "Enter" && set({ code: e.currentTarget.value || undefined })}
        />
        <Input
          aria-label="Model"
          placeholder="Model"
          className="w-40"
          defaultValue={search.model ?? ""}
          onBlur={(e) => set({ model: e.target.value || undefined })}
          onKeyDown={(e) => e.key === "Enter" && set({ model: e.currentTarget.value || undefined })}
        />
        <NativeSelect
          aria-label="Time range"
          className="w-auto"
          value={search.range ?? ""}
          onChange={(e) => set({ range: (e.target.value || undefined) as typeof search.range })}
        >
          <option value="">All time</option>
          <option value="24h">Last 24 h</option>
          <option value="7d">Last 7 days</option>
          <option value="30d">Last 30 days</option>
          <option value="90d">Last 90 days</option>
        </NativeSelect>
        {Object.values(search).some(Boolean) ? (
          <Button variant="ghost" size="sm" onClick={() => navigate({ search: {} })}>
            Clear
          </Button>
        ) : null}
      </fieldset>
      <Card>
        {logs.isPending ? (
          <Loading label="Loading logs" rows={8} />
        ) : logs.isError ? (
          <div className="p-4">
            <ErrorState error={logs.error} retry={() => logs.refetch()} />
          </div>
        ) : rows.length === 0 ? (
          <div className="p-4">
            <EmptyState title="No requests match">
              Requests appear here a moment after the gateway answers them.
            </EmptyState>
          </div>
        ) : (
          <div ref={scroller} className="max-h-[65vh] overflow-auto" data-testid="logs-scroller">
            <table className="w-full text-sm" aria-label="Requests" aria-rowcount={rows.length}>
              <thead className="sticky top-0 z-10 bg-muted text-left text-xs text-muted-foreground">
                {table.getHeaderGroups().map((hg) => (
                  <tr key={hg.id}>
                    {hg.headers.map((h) => (
                      <th key={h.id} className="h-9 px-3 font-medium whitespace-nowrap">
                        {flexRender(h.column.columnDef.header, h.getContext())}
                      </th>
                    ))}
                  </tr>
                ))}
              </thead>
              <tbody>
                {top > 0 ? (
                  <tr>
                    <td style={{ height: top }} />
                  </tr>
                ) : null}
                {items.map((vi) => {
                  const row = table.getRowModel().rows[vi.index]!;
                  return (
                    <tr
                      key={row.id}
                      data-testid="log-row"
                      tabIndex={0}
                      aria-label={`Request ${row.original.requestId}: open details`}
                      className="cursor-pointer border-b hover:bg-muted/40 focus:bg-accent"
                      style={{ height: rowHeight }}
                      onClick={() => set({ request: row.original.requestId })}
                      onKeyDown={(e) => {
                        if (e.key !== "Enter" && e.key !== " ") return;
                        e.preventDefault();
                        void set({ request: row.original.requestId });
                      }}
                    >
                      {row.getVisibleCells().map((c) => (
                        <td key={c.id} className="px-3 py-1.5">
                          {flexRender(c.column.columnDef.cell, c.getContext())}
                        </td>
                      ))}
                    </tr>
                  );
                })}
                {bottom > 0 ? (
                  <tr>
                    <td style={{ height: bottom }} />
                  </tr>
                ) : null}
              </tbody>
            </table>
            {logs.hasNextPage ? (
              <div className="p-3 text-center">
                <Button
                  variant="outline"
                  size="sm"
                  disabled={logs.isFetchingNextPage}
                  onClick={() => logs.fetchNextPage()}
                >
                  Load older requests
                </Button>
              </div>
            ) : null}
          </div>
        )}
      </Card>
      <Dialog open={Boolean(selected)} onOpenChange={(o) => !o && set({ request: undefined })}>
        {selected ? (
          <DialogContent side="right" title="Request details" description={selected.requestId}>
            <OutcomeBadge row={selected} />
            {selected.code ? (
              <div className="grid gap-1 rounded-md border bg-muted/40 p-3 text-sm">
                <p className="font-medium">
                  Why: <code>{selected.code}</code> (HTTP {selected.status})
                </p>
                <p className="text-muted-foreground">
                  {why[selected.code] ?? "The upstream provider answered with an error."}
                </p>
              </div>
            ) : selected.shadowCode ? (
              <div className="grid gap-1 rounded-md border bg-muted/40 p-3 text-sm">
                <p className="font-medium">
                  Allowed, but the key's shadow policy would have refused it:{" "}
                  <code>{selected.shadowCode}</code>
                </p>
                <p className="text-muted-foreground">
                  {selected.shadowMessage ?? why[selected.shadowCode]}
                </p>
              </div>
            ) : null}
            <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-2 text-sm">
              <dt className="text-muted-foreground">Time</dt>
              <dd>{formatTimeSeconds(selected.admittedAt)}</dd>
              <dt className="text-muted-foreground">Key</dt>
              <dd>{selected.keyLabel ?? selected.keyId}</dd>
              <dt className="text-muted-foreground">Model</dt>
              <dd className="font-mono">{selected.model ?? "—"}</dd>
              <dt className="text-muted-foreground">Provider</dt>
              <dd>{selected.provider ?? "—"}</dd>
              <dt className="text-muted-foreground">Tokens</dt>
              <dd>{tokens(selected)}</dd>
              <dt className="text-muted-foreground">Cost</dt>
              <dd>{formatMoney(selected.costUsd)}</dd>
              <dt className="text-muted-foreground">Latency</dt>
              <dd>
                {selected.latencyMs} ms{selected.stream ? " · stream" : ""}
              </dd>
            </dl>
            <div className="flex flex-wrap gap-2">
              <Button asChild>
                <Link
                  to="/projects/$projectId/keys/$keyId/policy"
                  params={{ projectId, keyId: selected.keyId }}
                >
                  Open the key's policy
                </Link>
              </Button>
              <Button variant="outline" asChild>
                <Link
                  to="/projects/$projectId/keys/$keyId"
                  params={{ projectId, keyId: selected.keyId }}
                >
                  Key page
                </Link>
              </Button>
            </div>
          </DialogContent>
        ) : null}
      </Dialog>
    </>
  );
}
