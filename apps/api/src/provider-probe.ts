import { lookup as dnsLookup } from "node:dns";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { guardedLookup, isRefusedLiteral, type LookupFn } from "@osm/net/addresses";

export type ProbeResult = {
  ok: boolean;
  status: number | null;
  latencyMs: number;
  message: string;
};

export type ProbeTarget = { kind: "openai" | "anthropic"; baseUrl: string; apiKey: string };

// Long enough for a slow vendor's model list, short enough that an admin is not left waiting.
const probeTimeoutMs = 10_000;

/**
 * "Test connection": lists the provider's models with its stored key. The same address rule as
 * the proxy at connect time (a host whose DNS moved to a private address is refused before a
 * socket opens), one connection, no redirect followed, and nothing of the answer kept but its
 * status, so neither the key nor the provider's body reaches the caller.
 */
export function probeProvider(
  target: ProbeTarget,
  options: { allowPrivate: boolean; lookup?: LookupFn; timeoutMs?: number },
): Promise<ProbeResult> {
  const started = performance.now();
  const result = (status: number | null, message: string, ok = false): ProbeResult => ({
    ok,
    status,
    latencyMs: Math.round(performance.now() - started),
    message,
  });
  // The Anthropic base URL is the origin (its paths start with /v1); OpenAI's includes /v1.
  const url = new URL(`${target.baseUrl}${target.kind === "anthropic" ? "/v1/models" : "/models"}`);
  if (isRefusedLiteral(url.hostname, options.allowPrivate)) {
    return Promise.resolve(
      result(null, `Refused: ${url.hostname} is a loopback or private address.`),
    );
  }
  const headers: Record<string, string> =
    target.kind === "anthropic"
      ? { "x-api-key": target.apiKey, "anthropic-version": "2023-06-01" }
      : { authorization: `Bearer ${target.apiKey}` };
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const timeoutMs = options.timeoutMs ?? probeTimeoutMs;
  return new Promise((resolve) => {
    const req = send(
      url,
      {
        method: "GET",
        headers: { ...headers, accept: "application/json" },
        lookup: guardedLookup(options.allowPrivate, options.lookup ?? dnsLookup),
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.on("end", () => resolve(result(status, describeStatus(status), status < 300)));
        res.on("error", (err) => resolve(result(status, `Connection failed: ${err.message}`)));
      },
    );
    req.on("timeout", () => {
      req.destroy();
      resolve(result(null, `No answer within ${timeoutMs / 1000} s.`));
    });
    req.on("error", (err) => resolve(result(null, describeError(err))));
    req.end();
  });
}

function describeStatus(status: number): string {
  if (status >= 200 && status < 300)
    return `Connected: the provider listed its models (HTTP ${status}).`;
  if (status === 401 || status === 403) return `The provider refused the API key (HTTP ${status}).`;
  if (status === 404) return "The provider answered 404: check the base URL (and its /v1).";
  return `The provider answered HTTP ${status}.`;
}

function describeError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "EPRIVATEUPSTREAM") return `Refused: ${err.message}.`;
  if (code === "ENOTFOUND") return "The host does not resolve.";
  if (code === "ECONNREFUSED") return "Connection refused.";
  return `Connection failed: ${err.message.slice(0, 200)}`;
}
