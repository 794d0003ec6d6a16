import type { IncomingHttpHeaders, IncomingMessage } from "node:http";

export function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

// Rejects when the client disconnects mid-upload; the caller records that as an abort.
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export type ParsedBody = { body: unknown; invalid: boolean };

export function parseJsonBody(raw: Buffer): ParsedBody {
  const text = raw.toString("utf8");
  if (text.trim() === "") return { body: null, invalid: false };
  try {
    return { body: JSON.parse(text), invalid: false };
  } catch {
    return { body: null, invalid: true };
  }
}

// RFC 9110 §12.5.3: gzip is acceptable when listed (or covered by "*") without q=0.
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(",").some((entry) => {
    const [coding = "", ...params] = entry.trim().toLowerCase().split(";");
    if (coding.trim() !== "gzip" && coding.trim() !== "*") return false;
    const quality = params.map((param) => param.trim()).find((param) => param.startsWith("q="));
    return quality === undefined || Number(quality.slice(2)) > 0;
  });
}
