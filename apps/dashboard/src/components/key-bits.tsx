import type { KeyPolicy } from "@osm/policy/schemas";
import { Line, LineChart, ResponsiveContainer } from "recharts";
import { formatMoney, percentOf } from "../lib/money.ts";
import type { Outputs } from "../lib/session.ts";
import { formatTime, relative } from "../lib/time.ts";
import { cn } from "../lib/utils.ts";
import { Badge } from "./ui/badge.tsx";

export type KeyView = Outputs["keys"]["get"];

const statusTone = {
  active: "success",
  inactive: "neutral",
  limit_reached: "danger",
  revoked: "danger",
  expired: "warning",
} as const;
const statusLabel = {
  active: "Active",
  inactive: "Inactive",
  limit_reached: "Limit reached",
  revoked: "Revoked",
  expired: "Expired",
} as const;

const weekMs = 7 * 24 * 3600 * 1000;

/** The stored status plus what a person should notice: near the limit, rotating, shadow, expiring. */
export function KeyBadges({ k }: { k: KeyView }) {
  const pct = percentOf(k.spendUsd, k.spendLimitUsd);
  const live = k.status === "active";
  return (
    <div className="flex flex-wrap gap-1">
      <Badge tone={statusTone[k.status]}>{statusLabel[k.status]}</Badge>
      {live && pct !== null && pct >= 80 && pct < 100 ? (
        <Badge tone="warning">Near limit · {pct}%</Badge>
      ) : null}
      {k.rotation ? (
        <Badge
          tone="info"
          title={`The old secret works until ${formatTime(k.rotation.graceUntil)}`}
        >
          Rotating · old valid {relative(k.rotation.graceUntil)}
        </Badge>
      ) : null}
      {k.policy.mode === "shadow" ? <Badge tone="info">Shadow policy</Badge> : null}
      {live && k.expiresAt && k.expiresAt.getTime() - Date.now() < weekMs ? (
        <Badge tone="warning">Expires {relative(k.expiresAt)}</Badge>
      ) : null}
    </div>
  );
}

const periodLabel = {
  none: "lifetime",
  daily: "today",
  weekly: "this week",
  monthly: "this month",
} as const;

export function SpendBar({ k, wide }: { k: KeyView; wide?: boolean }) {
  const pct = percentOf(k.spendUsd, k.spendLimitUsd);
  return (
    <div className={cn("grid gap-1", wide ? "w-full" : "w-40")}>
      <div className="flex justify-between gap-2 text-xs">
        <span className="font-medium tabular-nums">{formatMoney(k.spendUsd)}</span>
        <span className="text-muted-foreground tabular-nums">
          {k.spendLimitUsd ? `of ${formatMoney(k.spendLimitUsd)}` : "no limit"}
        </span>
      </div>
      {pct !== null ? (
        // biome-ignore lint/a11y/useSemanticElements: a styled bar; <meter> cannot be themed across browsers
        <div
          className="h-1.5 overflow-hidden rounded-full bg-muted"
          role="meter"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={Math.min(pct, 100)}
          aria-label={`Spend ${pct}% of the limit`}
        >
          <div
            className={cn(
              "h-full rounded-full",
              pct >= 100 ? "bg-destructive" : pct >= 80 ? "bg-warning" : "bg-primary",
            )}
            style={{ width: `${Math.min(pct, 100)}%` }}
          />
        </div>
      ) : null}
      <span className="text-[11px] text-muted-foreground">
        {periodLabel[k.budgetPeriod]}
        {k.windowResetsAt ? ` · resets ${relative(k.windowResetsAt)}` : ""}
      </span>
    </div>
  );
}

export function Sparkline({ points, label }: { points: number[]; label: string }) {
  const total = points.reduce((a, b) => a + b, 0);
  return (
    <div
      className="h-7 w-24"
      role="img"
      aria-label={`${label}: ${total} requests in the last 24 hours`}
    >
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={points.map((v, i) => ({ i, v }))}>
          <Line
            type="monotone"
            dataKey="v"
            stroke="var(--color-primary)"
            strokeWidth={1.5}
            dot={false}
            isAnimationActive={false}
          />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}

/** "3 models · 60 RPM": the policy in a glance. */
export function ruleChips(policy: KeyPolicy): string[] {
  const chips: string[] = [];
  const allow = policy.models?.allow?.length;
  if (allow) chips.push(`${allow} model${allow === 1 ? "" : "s"}`);
  const block = policy.models?.block?.length;
  if (block) chips.push(`${block} blocked`);
  if (policy.providers?.allow?.length || policy.providers?.block?.length) chips.push("providers");
  if (policy.tiers) chips.push(policy.tiers.join("/"));
  if (policy.maxInputUsdPer1M || policy.maxOutputUsdPer1M) chips.push("price cap");
  if (policy.maxTokensPerRequest) chips.push(`≤${policy.maxTokensPerRequest} tok`);
  if (policy.rateLimit?.requestsPerMinute) chips.push(`${policy.rateLimit.requestsPerMinute} RPM`);
  if (policy.rateLimit?.tokensPerMinute) chips.push(`${policy.rateLimit.tokensPerMinute} TPM`);
  return chips;
}

export function RuleChips({ policy }: { policy: KeyPolicy }) {
  const chips = ruleChips(policy);
  if (chips.length === 0) return <span className="text-xs text-muted-foreground">All models</span>;
  return (
    <div className="flex flex-wrap gap-1">
      {chips.map((c) => (
        <span key={c} className="rounded bg-muted px-1.5 py-0.5 text-[11px]">
          {c}
        </span>
      ))}
    </div>
  );
}
