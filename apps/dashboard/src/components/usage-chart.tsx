import { format } from "date-fns";
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { formatMoney } from "../lib/money.ts";

export type Metric = "cost" | "requests" | "tokens";
export type SeriesPoint = {
  bucketStart: Date;
  series: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: string;
};

const palette = [
  "#5b5bd6",
  "#12a594",
  "#e5484d",
  "#f5a524",
  "#8e4ec6",
  "#0090ff",
  "#ad7f58",
  "#3e63dd",
  "#d6409f",
  "#46a758",
];

// Plotting needs numbers; the money shown (tooltip, axis) is formatted from decimal text.
function value(p: SeriesPoint, metric: Metric): number {
  if (metric === "requests") return p.requests;
  if (metric === "tokens") return p.inputTokens + p.outputTokens;
  return Number(p.costUsd);
}

function formatValue(v: number, metric: Metric): string {
  return metric === "cost" ? formatMoney(v.toFixed(9)) : v.toLocaleString();
}

/** Stacked bars per bucket, one colour per series (model, key or provider). */
export function UsageChart({
  points,
  metric,
  bucket,
  names = (s) => s || "(unknown)",
  label,
}: {
  points: SeriesPoint[];
  metric: Metric;
  bucket: "hour" | "day";
  names?: (series: string) => string;
  label: string;
}) {
  const series = [...new Set(points.map((p) => p.series))];
  const byBucket = new Map<number, Record<string, number | string>>();
  for (const p of points) {
    const t = p.bucketStart.getTime();
    const row = byBucket.get(t) ?? { t };
    row[p.series] = ((row[p.series] as number | undefined) ?? 0) + value(p, metric);
    byBucket.set(t, row);
  }
  const data = [...byBucket.values()].sort((a, b) => (a.t as number) - (b.t as number));
  const tick = (t: number) => format(new Date(t), bucket === "hour" ? "HH:mm" : "MMM d");
  return (
    <figure className="h-64 w-full" aria-label={label}>
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} margin={{ left: 4, right: 8, top: 8 }}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="var(--color-border)" />
          <XAxis dataKey="t" tickFormatter={tick} fontSize={11} tickLine={false} />
          <YAxis
            fontSize={11}
            tickLine={false}
            axisLine={false}
            width={64}
            tickFormatter={(v: number) => formatValue(v, metric)}
          />
          <Tooltip
            labelFormatter={(t) => format(new Date(Number(t)), "MMM d, HH:mm")}
            formatter={(v, name) => [formatValue(Number(v), metric), names(String(name))]}
          />
          <Legend formatter={(name) => names(String(name))} wrapperStyle={{ fontSize: 12 }} />
          {series.map((s, i) => (
            <Bar
              key={s}
              dataKey={s}
              stackId="a"
              fill={palette[i % palette.length]}
              isAnimationActive={false}
            />
          ))}
        </BarChart>
      </ResponsiveContainer>
      <figcaption className="sr-only">{label}</figcaption>
    </figure>
  );
}

export const rangeHours = { "24h": 24, "7d": 24 * 7, "30d": 24 * 30, "90d": 24 * 90 } as const;
export type Range = keyof typeof rangeHours;
export const ranges = Object.keys(rangeHours) as Range[];

export function rangeQuery(range: Range) {
  const hours = rangeHours[range];
  return {
    from: new Date(Math.floor(Date.now() / 3600_000) * 3600_000 - (hours - 1) * 3600_000),
    bucket: (hours <= 24 * 7 ? "hour" : "day") as "hour" | "day",
  };
}
