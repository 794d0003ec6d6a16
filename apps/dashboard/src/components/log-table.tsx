import type { Outputs } from "../lib/session.ts";
import { Badge } from "./ui/badge.tsx";

export type LogRow = Outputs["logs"]["list"]["items"][number];

/** Why the gateway refused a request, by error code, in words for the person reading the log. */
export const why: Record<string, string> = {
  model_not_allowed: "The key's policy does not allow this model (allow list or block list).",
  provider_blocked: "The key's policy does not allow this model's provider.",
  tier_not_allowed: "The model's pricing tier is not among the key's allowed tiers.",
  price_limit_exceeded: "The model costs more per 1M tokens than the key's price limit.",
  max_tokens_exceeded: "The request asked for more output tokens than the key allows per request.",
  spending_limit_reached:
    "The key's spending limit for this period is used up (or this request could exceed it).",
  rate_limit_exceeded: "The key sent more requests or tokens per minute than its rate limit.",
  model_not_found: "The model is not in this project's catalog, or it or its provider is inactive.",
  key_inactive: "The key was deactivated.",
  key_expired: "The key passed its expiry date.",
  invalid_api_key: "The key was revoked or the secret is wrong.",
};

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
