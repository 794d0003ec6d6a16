import { createHmac } from "node:crypto";
import { lookup as dnsLookup } from "node:dns";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { guardedLookup, isRefusedLiteral, type LookupFn } from "./addresses.ts";

export type { LookupFn };

/** A refusal or failure to send; the message is safe to store (no secret, no body). */
export class WebhookError extends Error {}

export type SendOptions = {
  allowPrivate: boolean;
  timeoutMs: number;
  lookup?: LookupFn;
};

/**
 * POSTs `body` to `rawUrl` and resolves with the response status once the response has been read
 * (and discarded). Redirects are not followed: a 3xx is an answer like any other non-2xx. Rejects
 * with a WebhookError on a refused address, a connection failure or the timeout, which bounds
 * the whole exchange.
 */
export function postWebhook(
  rawUrl: string,
  body: string,
  headers: Record<string, string>,
  options: SendOptions,
): Promise<number> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return Promise.reject(new WebhookError("webhook url is not a valid URL"));
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return Promise.reject(new WebhookError("webhook url must use http or https"));
  // A literal address never goes through lookup: it is checked here instead.
  if (isRefusedLiteral(url.hostname, options.allowPrivate))
    return Promise.reject(
      new WebhookError(
        `webhook host ${url.hostname} is a loopback or private address (set OSM_ALLOW_PRIVATE_UPSTREAMS=true to allow)`,
      ),
    );

  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, status?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(status!);
    };
    const req = send(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        lookup: guardedLookup(options.allowPrivate, options.lookup ?? dnsLookup, "webhook"),
        // One connection per delivery, closed after it: nothing lingers past the worker's close.
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        res.on("error", (err) => finish(describe(err)));
        res.on("end", () => finish(null, status));
        res.on("close", () => {
          if (!res.complete) finish(new WebhookError("webhook response ended early"));
        });
        res.resume();
      },
    );
    const timer = setTimeout(() => {
      finish(new WebhookError(`webhook timed out after ${options.timeoutMs} ms`));
      req.destroy();
    }, options.timeoutMs);
    req.on("error", (err) => finish(describe(err)));
    req.end(body);
  });
}

function describe(err: Error): WebhookError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "EPRIVATEUPSTREAM")
    return new WebhookError(`${err.message} (set OSM_ALLOW_PRIVATE_UPSTREAMS=true to allow)`);
  return new WebhookError(`webhook request failed: ${err.message.slice(0, 200)}`);
}

/** The header a webhook's signature travels in (see docs/alerts.md). */
export const signatureHeader = "osm-signature";

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The timestamp is signed with
 * the body, so a receiver that refuses old timestamps cannot be replayed a captured delivery.
 * Every attempt is signed afresh with its own timestamp.
 */
export function signWebhook(secret: string, timestamp: number, rawBody: string): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest("hex");
  return `t=${timestamp},v1=${mac}`;
}
