import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams, useSearch } from "@tanstack/react-router";
import {
  type ColumnDef,
  flexRender,
  getCoreRowModel,
  type RowSelectionState,
  useReactTable,
} from "@tanstack/react-table";
import { Check, Pencil, Plus, Search, X } from "lucide-react";
import { useMemo, useState } from "react";
import { toast } from "sonner";
import { CreateKeyDialog } from "../components/create-key.tsx";
import {
  KeyBadges,
  type KeyView,
  RuleChips,
  Sparkline,
  SpendBar,
} from "../components/key-bits.tsx";
import { gatewayBaseUrl } from "../components/secret-reveal.tsx";
import { Button } from "../components/ui/button.tsx";
import { Card } from "../components/ui/card.tsx";
import { CodeBlock } from "../components/ui/code-block.tsx";
import { Checkbox, Switch } from "../components/ui/controls.tsx";
import { Input, NativeSelect } from "../components/ui/input.tsx";
import { EmptyState, ErrorState, Loading, PageHeader } from "../components/ui/states.tsx";
import { Table, TBody, Td, THead, Th, Tr } from "../components/ui/table.tsx";
import { useProjectRole } from "../lib/session.ts";
import { formatTime, relative } from "../lib/time.ts";
import { errorMessage, trpcClient, useTRPC } from "../lib/trpc.ts";

type Row = KeyView & { requests24h: number[] };

function InlineLabel({ k, editable }: { k: Row; editable: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(k.label);
  async function save() {
    try {
      await trpcClient.keys.update.mutate({ id: k.id, label: value });
      await queryClient.invalidateQueries({ queryKey: trpc.keys.pathKey() });
      setEditing(false);
    } catch (err) {
      toast.error(errorMessage(err));
    }
  }
  if (editing) {
    return (
      <form
        className="flex items-center gap-1"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <Input
          aria-label="New label"
          className="h-8 w-40"
          value={value}
          autoFocus
          onChange={(e) => setValue(e.target.value)}
          onKeyDown={(e) => e.key === "Escape" && setEditing(false)}
        />
        <Button size="icon" variant="ghost" type="submit" aria-label="Save label">
          <Check />
        </Button>
        <Button size="icon" variant="ghost" aria-label="Cancel" onClick={() => setEditing(false)}>
          <X />
        </Button>
      </form>
    );
  }
  return (
    <div className="flex items-center gap-1">
      <Link
        to="/projects/$projectId/keys/$keyId"
        params={{ projectId: k.projectId, keyId: k.id }}
        className="font-medium text-foreground hover:underline"
      >
        {k.label}
      </Link>
      {editable ? (
        <Button
          size="icon"
          variant="ghost"
          className="size-7"
          aria-label={`Rename ${k.label}`}
          onClick={() => setEditing(true)}
        >
          <Pencil className="size-3.5" />
        </Button>
      ) : null}
    </div>
  );
}

function ActiveToggle({ k }: { k: Row }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  if (k.status === "revoked" || k.status === "expired") return null;
  return (
    <Switch
      checked={k.enabled}
      aria-label={`${k.label} active`}
      onCheckedChange={async (active) => {
        try {
          await trpcClient.keys.setActive.mutate({ id: k.id, active });
          await queryClient.invalidateQueries({ queryKey: trpc.keys.pathKey() });
          toast.success(`${k.label} ${active ? "activated" : "deactivated"}.`);
        } catch (err) {
          toast.error(errorMessage(err));
        }
      }}
    />
  );
}

export function KeysPage() {
  const { projectId } = useParams({ from: "/projects/$projectId/keys" });
  const search = useSearch({ from: "/projects/$projectId/keys" });
  const navigate = useNavigate({ from: "/projects/$projectId/keys" });
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { canWrite } = useProjectRole(projectId);
  const [creating, setCreating] = useState(false);
  const [selection, setSelection] = useState<RowSelectionState>({});
  const [q, setQ] = useState(search.q ?? "");
  const keys = useQuery({
    ...trpc.keys.list.queryOptions({
      projectId,
      limit: 25,
      q: search.q || undefined,
      status: search.status,
      limitState: search.limitState,
      sort: search.sort ?? "created",
      cursor: search.page,
    }),
    placeholderData: keepPreviousData,
    refetchInterval: 10_000,
  });
  const items = (keys.data?.items ?? []) as Row[];

  const columns = useMemo<ColumnDef<Row>[]>(
    () => [
      ...(canWrite
        ? [
            {
              id: "select",
              header: ({ table }) => (
                <Checkbox
                  aria-label="Select all keys on this page"
                  checked={
                    table.getIsAllRowsSelected()
                      ? true
                      : table.getIsSomeRowsSelected()
                        ? "indeterminate"
                        : false
                  }
                  onCheckedChange={(v) => table.toggleAllRowsSelected(v === true)}
                />
              ),
              cell: ({ row }) => (
                <Checkbox
                  aria-label={`Select ${row.original.label}`}
                  checked={row.getIsSelected()}
                  onCheckedChange={(v) => row.toggleSelected(v === true)}
                />
              ),
            } satisfies ColumnDef<Row>,
          ]
        : []),
      {
        id: "label",
        header: "Key",
        cell: ({ row }) => (
          <div className="grid gap-0.5">
            <InlineLabel
              k={row.original}
              editable={canWrite && row.original.status !== "revoked"}
            />
            <code className="font-mono text-xs text-muted-foreground">{row.original.display}</code>
          </div>
        ),
      },
      { id: "status", header: "Status", cell: ({ row }) => <KeyBadges k={row.original} /> },
      { id: "spend", header: "Spend", cell: ({ row }) => <SpendBar k={row.original} /> },
      {
        id: "requests",
        header: "24 h",
        cell: ({ row }) => (
          <Sparkline points={row.original.requests24h} label={row.original.label} />
        ),
      },
      {
        id: "lastUsed",
        header: "Last used",
        cell: ({ row }) => (
          <span className="whitespace-nowrap text-xs" title={formatTime(row.original.lastUsedAt)}>
            {relative(row.original.lastUsedAt)}
          </span>
        ),
      },
      {
        id: "rules",
        header: "Rules",
        cell: ({ row }) => <RuleChips policy={row.original.policy} />,
      },
      {
        id: "created",
        header: "Created",
        cell: ({ row }) => (
          <span className="whitespace-nowrap text-xs">{formatTime(row.original.createdAt)}</span>
        ),
      },
      ...(canWrite
        ? [
            {
              id: "active",
              header: "Active",
              cell: ({ row }) => <ActiveToggle k={row.original} />,
            } satisfies ColumnDef<Row>,
          ]
        : []),
    ],
    [canWrite],
  );
  const table = useReactTable({
    data: items,
    columns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (r) => r.id,
    state: { rowSelection: selection },
    onRowSelectionChange: setSelection,
    enableRowSelection: (row) => row.original.status !== "revoked",
  });
  const selected = table.getSelectedRowModel().rows.map((r) => r.original);

  async function bulk(active: boolean) {
    const results = await Promise.allSettled(
      selected.map((k) => trpcClient.keys.setActive.mutate({ id: k.id, active })),
    );
    const failed = results.filter((r) => r.status === "rejected").length;
    await queryClient.invalidateQueries({ queryKey: trpc.keys.pathKey() });
    setSelection({});
    if (failed) toast.error(`${failed} of ${results.length} keys could not be changed.`);
    else
      toast.success(
        `${results.length} key${results.length === 1 ? "" : "s"} ${active ? "activated" : "deactivated"}.`,
      );
  }

  const filtered = Boolean(search.q || search.status || search.limitState);
  return (
    <>
      <PageHeader
        title="API keys"
        description="Keys authenticate calls to the gateway. Each has its own limits and policy."
        actions={
          canWrite ? (
            <Button onClick={() => setCreating(true)}>
              <Plus aria-hidden="true" />
              Create key
            </Button>
          ) : null
        }
      />
      <div className="mb-3 flex flex-wrap items-end gap-2">
        <form
          className="relative min-w-56 flex-1"
          onSubmit={(e) => {
            e.preventDefault();
            void navigate({ search: (s) => ({ ...s, q: q || undefined, page: undefined }) });
          }}
        >
          <Search
            className="pointer-events-none absolute left-2.5 top-2.5 size-4 text-muted-foreground"
            aria-hidden="true"
          />
          <Input
            aria-label="Search by label or last four characters"
            placeholder="Search label or last four…"
            className="pl-8"
            value={q}
            onChange={(e) => setQ(e.target.value)}
          />
        </form>
        <NativeSelect
          aria-label="Status"
          className="w-auto"
          value={search.status ?? ""}
          onChange={(e) =>
            navigate({
              search: (s) => ({
                ...s,
                status: (e.target.value || undefined) as typeof s.status,
                page: undefined,
              }),
            })
          }
        >
          <option value="">Any status</option>
          <option value="active">Active</option>
          <option value="inactive">Inactive</option>
          <option value="limit_reached">Limit reached</option>
          <option value="expired">Expired</option>
          <option value="revoked">Revoked</option>
        </NativeSelect>
        <NativeSelect
          aria-label="Limit"
          className="w-auto"
          value={search.limitState ?? ""}
          onChange={(e) =>
            navigate({
              search: (s) => ({
                ...s,
                limitState: (e.target.value || undefined) as typeof s.limitState,
                page: undefined,
              }),
            })
          }
        >
          <option value="">Any limit</option>
          <option value="limited">Has a limit</option>
          <option value="near">Near limit (≥ 80 %)</option>
          <option value="reached">Limit reached</option>
          <option value="none">No limit</option>
        </NativeSelect>
        <NativeSelect
          aria-label="Sort by"
          className="w-auto"
          value={search.sort ?? "created"}
          onChange={(e) =>
            navigate({
              search: (s) => ({ ...s, sort: e.target.value as typeof s.sort, page: undefined }),
            })
          }
        >
          <option value="created">Newest</option>
          <option value="spend">Spend</option>
          <option value="lastUsed">Last used</option>
          <option value="expiry">Expiring first</option>
        </NativeSelect>
      </div>
      {selected.length > 0 ? (
        <section
          className="mb-3 flex flex-wrap items-center gap-2 rounded-md border bg-accent px-3 py-2 text-sm"
          aria-label="Bulk actions"
        >
          <span>{selected.length} selected</span>
          <Button size="sm" variant="outline" onClick={() => bulk(true)}>
            Activate
          </Button>
          <Button size="sm" variant="outline" onClick={() => bulk(false)}>
            Deactivate
          </Button>
          <Button size="sm" variant="ghost" onClick={() => setSelection({})}>
            Clear
          </Button>
        </section>
      ) : null}
      <Card>
        {keys.isPending ? (
          <Loading label="Loading keys" rows={5} />
        ) : keys.isError ? (
          <div className="p-4">
            <ErrorState error={keys.error} retry={() => keys.refetch()} />
          </div>
        ) : items.length === 0 ? (
          <div className="p-4">
            {filtered ? (
              <EmptyState
                title="No key matches these filters"
                action={
                  <Button
                    variant="outline"
                    onClick={() => {
                      setQ("");
                      void navigate({ search: {} });
                    }}
                  >
                    Clear filters
                  </Button>
                }
              />
            ) : (
              <EmptyState
                title="No API keys yet"
                action={
                  canWrite ? (
                    <Button onClick={() => setCreating(true)}>
                      <Plus aria-hidden="true" />
                      Create your first key
                    </Button>
                  ) : null
                }
              >
                <p className="mb-2">Create a key, then call the gateway with it:</p>
                <CodeBlock
                  label="curl example"
                  className="bg-muted"
                >{`curl ${gatewayBaseUrl()}/chat/completions \\
  -H "Authorization: Bearer $OSM_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}'`}</CodeBlock>
              </EmptyState>
            )}
          </div>
        ) : (
          <Table aria-label="API keys">
            <THead>
              {table.getHeaderGroups().map((hg) => (
                <tr key={hg.id}>
                  {hg.headers.map((h) => (
                    <Th key={h.id}>{flexRender(h.column.columnDef.header, h.getContext())}</Th>
                  ))}
                </tr>
              ))}
            </THead>
            <TBody>
              {table.getRowModel().rows.map((row) => (
                <Tr key={row.id} data-testid={`key-row-${row.original.label}`}>
                  {row.getVisibleCells().map((cell) => (
                    <Td key={cell.id}>
                      {flexRender(cell.column.columnDef.cell, cell.getContext())}
                    </Td>
                  ))}
                </Tr>
              ))}
            </TBody>
          </Table>
        )}
      </Card>
      <div className="mt-3 flex justify-end gap-2">
        {search.page ? (
          <Button
            variant="outline"
            size="sm"
            onClick={() => navigate({ search: (s) => ({ ...s, page: undefined }) })}
          >
            First page
          </Button>
        ) : null}
        {keys.data?.nextCursor ? (
          <Button
            variant="outline"
            size="sm"
            onClick={() =>
              navigate({ search: (s) => ({ ...s, page: keys.data?.nextCursor ?? undefined }) })
            }
          >
            Next page
          </Button>
        ) : null}
      </div>
      {canWrite ? (
        <CreateKeyDialog projectId={projectId} open={creating} onOpenChange={setCreating} />
      ) : null}
    </>
  );
}
