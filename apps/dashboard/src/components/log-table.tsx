import type { Outputs } from "../lib/session.ts";
import { Badge } from "./ui/badge.tsx";

export type LogRow = Outputs["logs"]["list"]["items"][number];

export function OutcomeBadge({
  row,
}: {
  row: Pick<LogRow, "outcome" | "code"> & { shadowCode?: string | null };
}) {
  if (row.outcome === "allowed" && row.shadowCode)
    return <Badge tone="info">Shadow-denied · {row.shadowCode}</Badge>;
  if (row.outcome === "allowed") return <Badge tone="success">Allowed</Badge>;
  if (row.outcome === "denied") return <Badge tone="danger">Denied · {row.code}</Badge>;
  return <Badge tone="warning">Error · {row.code ?? "upstream"}</Badge>;
}

export function tokens(row: LogRow) {
  return `${row.inputTokens.toLocaleString()} → ${row.outputTokens.toLocaleString()}`;
}
