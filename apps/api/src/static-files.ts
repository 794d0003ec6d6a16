import { createReadStream, existsSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

const fallbackPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>osm</title></head>
<body><main><h1>osm</h1><p>The management API is at <code>/trpc</code>. No dashboard build is present in
<code>OSM_DASHBOARD_DIR</code>; use the typed client (<code>@osm/client</code>) or the API meanwhile.</p></main></body></html>`;

/** Serves the built dashboard; unknown paths get index.html so client-side routes work on reload. */
export function serveDashboard(dir: string | undefined, req: IncomingMessage, res: ServerResponse) {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res
      .writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain" })
      .end("Method Not Allowed");
    return;
  }
  const html = (status: number, body: string) =>
    res
      .writeHead(status, {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-cache",
        "Content-Security-Policy":
          "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      })
      .end(req.method === "HEAD" ? undefined : body);
  if (!dir || !existsSync(join(dir, "index.html"))) return html(200, fallbackPage);
  const root = resolve(dir);
  const pathname = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
  const file = normalize(join(root, pathname));
  const inside = file === root || file.startsWith(root + sep);
  const isFile = inside && existsSync(file) && statSync(file).isFile();
  const target = isFile ? file : join(root, "index.html");
  const type = types[extname(target)] ?? "application/octet-stream";
  if (type.startsWith("text/html")) {
    res.setHeader(
      "Content-Security-Policy",
      "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
  }
  res.writeHead(200, {
    "Content-Type": type,
    // Vite fingerprints everything under assets/: cache it for good; index.html never.
    "Cache-Control": pathname.startsWith("/assets/")
      ? "public, max-age=31536000, immutable"
      : "no-cache",
  });
  if (req.method === "HEAD") return res.end();
  createReadStream(target).pipe(res);
}
