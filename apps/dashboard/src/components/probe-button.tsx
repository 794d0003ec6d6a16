import type { LucideIcon } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { errorMessage } from "../lib/trpc.ts";
import { Badge } from "./ui/badge.tsx";
import { Button } from "./ui/button.tsx";

export type Probe = { ok: boolean; latencyMs: number; message: string };

/**
 * A button that calls something outside osm (a provider, a webhook) and keeps the verdict
 * beside it, announced to screen readers: the badge on success, the reason on failure.
 */
export function ProbeButton({
  label,
  busyLabel,
  okLabel,
  icon: Icon,
  run,
  testId,
}: {
  label: string;
  busyLabel: string;
  okLabel: string;
  icon: LucideIcon;
  run: () => Promise<Probe>;
  testId: string;
}) {
  const [pending, setPending] = useState(false);
  const [result, setResult] = useState<Probe | null>(null);
  async function probe() {
    setPending(true);
    try {
      setResult(await run());
    } catch (err) {
      toast.error(errorMessage(err));
    } finally {
      setPending(false);
    }
  }
  return (
    <div className="flex items-center gap-2">
      <Button size="sm" variant="outline" disabled={pending} onClick={probe}>
        <Icon aria-hidden="true" />
        {pending ? busyLabel : label}
      </Button>
      <span role="status" className="text-xs" data-testid={testId}>
        {result ? (
          <Badge tone={result.ok ? "success" : "danger"} title={result.message}>
            {result.ok ? `${okLabel} · ${result.latencyMs} ms` : "Failed"}
          </Badge>
        ) : null}
        {result && !result.ok ? <span className="ml-1">{result.message}</span> : null}
      </span>
    </div>
  );
}
