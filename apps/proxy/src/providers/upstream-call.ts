import type { Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { isRefusedLiteral } from "@osm/net/addresses";
import type { Agent, Dispatcher } from "undici";
import { GatewayError } from "../errors.ts";
import type { RequestSignal } from "../request-abort.ts";
import type { RequestTrace } from "../request-trace.ts";

export type UpstreamResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
};

/** We choose the encodings the provider may use and decode them ourselves. */
export const acceptEncoding = "gzip, br";

export async function callUpstream(
  agent: Agent,
  url: string,
  init: {
    method: "POST" | "GET" | "DELETE";
    /** The gateway alone chooses accept-encoding: it decodes only what it asked for. */
    headers: Record<string, string> & { "accept-encoding"?: never };
    body?: string | Buffer;
    signal: RequestSignal;
    /** A literal IP never goes through the guarded DNS lookup, so it is checked here. */
    allowPrivate: boolean;
    trace: RequestTrace | null;
  },
): Promise<UpstreamResponse> {
  let response: Dispatcher.ResponseData;
  let span: ReturnType<RequestTrace["upstream"]> | undefined;
  try {
    const target = new URL(url);
    span = init.trace?.upstream(init.method, target);
    if (isRefusedLiteral(target.hostname, init.allowPrivate)) {
      throw Object.assign(new Error("private upstream address"), { code: "EPRIVATEUPSTREAM" });
    }
    response = await agent.request({
      origin: target.origin,
      path: target.pathname + target.search,
      method: init.method,
      // Our header before the spreads, not after (docs/performance.md, "Slow paths of V8");
      // callers cannot set accept-encoding (see the type), so the order changes nothing.
      headers: { "accept-encoding": acceptEncoding, ...init.headers, ...span?.headers },
      body: init.body,
      signal: init.signal,
    });
  } catch (err) {
    const failure = upstreamFailure(err, init.signal);
    span?.failed(failure);
    throw failure;
  }
  const body = decoded(response);
  span?.responded(response.statusCode, body);
  return { status: response.statusCode, headers: response.headers, body };
}

function decoded(response: Dispatcher.ResponseData): Readable {
  const encoding = String(response.headers["content-encoding"] ?? "")
    .toLowerCase()
    .trim();
  const raw = response.body as unknown as Readable;
  const decoder =
    encoding === "gzip" || encoding === "x-gzip"
      ? createGunzip()
      : encoding === "br"
        ? createBrotliDecompress()
        : encoding === "deflate"
          ? createInflate()
          : null;
  if (!decoder) return raw;
  raw.on("error", (err) => decoder.destroy(err));
  return raw.pipe(decoder);
}

/**
 * Reads a whole (bounded) upstream body. Listeners rather than `for await`: the async iterator
 * cost every JSON answer two to three times as much for the same bytes.
 */
export function readAll(
  body: Readable,
  limit = 64 * 1024 * 1024,
  signal?: RequestSignal,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (err: unknown) => {
      if (done) return;
      done = true;
      reject(upstreamFailure(err, signal));
    };
    body.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        fail(new GatewayError("upstream_error", "The provider's answer is too large."));
        body.destroy();
        return;
      }
      chunks.push(chunk);
    });
    body.once("end", () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    body.once("error", fail);
    // Closed without an end (an aborted or reset connection): the answer is incomplete. The
    // error is built only then: "close" follows every "end", and a stack trace costs ~6 µs.
    body.once("close", () => {
      if (!done) fail(new Error("upstream body closed early"));
    });
  });
}

/** Maps a transport failure to the contract's codes; an abort carries its own reason. */
export function upstreamFailure(err: unknown, signal?: RequestSignal): GatewayError {
  if (signal?.aborted && signal.reason instanceof GatewayError) return signal.reason;
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: string }).code ?? "";
  if (
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT" ||
    code === "UND_ERR_CONNECT_TIMEOUT"
  ) {
    return new GatewayError("upstream_timeout", "The provider did not answer in time.");
  }
  if (code === "EPRIVATEUPSTREAM") {
    return new GatewayError(
      "upstream_error",
      "The provider's address is a private or loopback address, which this gateway refuses.",
    );
  }
  return new GatewayError(
    "upstream_error",
    "The provider could not be reached or broke the connection.",
  );
}

function retryAfter(headers: UpstreamResponse["headers"]): number | null {
  const value = headers["retry-after"];
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return null;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** The provider's error status and message in the contract's terms, without secrets. */
export function upstreamStatusError(
  status: number,
  headers: UpstreamResponse["headers"],
  providerMessage: string | null,
  secrets: string[],
): GatewayError {
  const message = scrub(providerMessage ?? "", secrets);
  if (status === 401 || status === 403) {
    return new GatewayError(
      "upstream_auth_failed",
      "The provider refused the gateway's credentials for this model.",
    );
  }
  if (status === 429) {
    return new GatewayError(
      "upstream_rate_limited",
      `The provider rate-limited the request${message ? `: ${message}` : "."}`,
      {
        retryAfterSeconds: retryAfter(headers),
      },
    );
  }
  if (status >= 400 && status < 500) {
    return new GatewayError(
      "upstream_invalid_request",
      message || `The provider refused the request (HTTP ${status}).`,
      {
        status,
      },
    );
  }
  return new GatewayError("upstream_error", `The provider failed (HTTP ${status}).`);
}

/** A provider's message as clients may read it: bounded, without credentials in it. */
export function scrub(message: string, secrets: string[]): string {
  let out = message.slice(0, 1000);
  for (const s of secrets) if (s.length >= 8) out = out.split(s).join("[redacted]");
  // Providers echo partial keys ("Incorrect API key provided: sk-abc***xyz").
  return out.replace(/\b(sk|osm|osmt)[-_][A-Za-z0-9_*\-.]{4,}/g, "[redacted]");
}
