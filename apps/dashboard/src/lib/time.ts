import { format, formatDistanceToNowStrict } from "date-fns";

// Dates are shown in the viewer's own time zone (date-fns formats in local time).
export const zoneName = Intl.DateTimeFormat().resolvedOptions().timeZone;

export function formatTime(d: Date | null | undefined): string {
  return d ? format(d, "MMM d, yyyy HH:mm") : "—";
}

export function formatTimeSeconds(d: Date): string {
  return format(d, "MMM d HH:mm:ss");
}

export function relative(d: Date | null | undefined, empty = "never"): string {
  return d ? formatDistanceToNowStrict(d, { addSuffix: true }) : empty;
}
