/**
 * A webhook URL as the audit log shows it: scheme and host only. Slack-style hooks carry their
 * credential in the path, and every viewer of a project can read its audit log.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname === "/" ? u.origin : `${u.origin}/…`;
  } catch {
    return "…";
  }
}
