import { randomBytes } from "node:crypto";

// Vendor-shaped identifiers ("chatcmpl-…", "msg_…", "call_…"): unique, so a gateway that
// dedupes or logs by upstream id sees distinct values.
export function vendorId(prefix: string): string {
  return prefix + randomBytes(12).toString("hex");
}
