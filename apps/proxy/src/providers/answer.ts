import { formatUsd } from "@osm/policy/money";
import { requestCost } from "@osm/policy/pricing";
import { GatewayError } from "../errors.ts";
import type { RequestSignal } from "../request-abort.ts";
import { ClientStream } from "../streaming/client-stream.ts";
import { type SseEvent, SseParser } from "../streaming/sse-parser.ts";
import type { AdmittedRequest } from "./adapter.ts";
import {
  readAll,
  type UpstreamResponse,
  upstreamFailure,
  upstreamStatusError,
} from "./upstream-call.ts";

// What every adapter does with a provider's answer: charge it, send it, relay its stream.

/**
 * Token counts as the provider reported them; a count it did not send is null. Cached input
 * tokens are part of inputTokens, priced at the model's cached price when it has one.
 */
export type ReportedUsage = {
  inputTokens: number | null;
  outputTokens: number | null;
  cachedInputTokens?: number | null;
};

const isCount = (n: number | null): n is number => n !== null && Number.isSafeInteger(n) && n >= 0;

/**
 * The one reading of "the provider sent no usage": a count that is missing or not a token
 * count, or a prompt of zero tokens (no prompt is empty: a 0 is a provider that did not count).
 * Then the prompt bound and the output estimate are charged instead, upper bounds both, so a
 * missing usage never undercharges.
 */
export function charge(
  request: AdmittedRequest,
  reported: ReportedUsage | null,
  estimatedOutput: number,
): void {
  const input =
    reported && isCount(reported.inputTokens) && reported.inputTokens > 0
      ? reported.inputTokens
      : request.promptTokens;
  const output =
    reported && isCount(reported.outputTokens) ? reported.outputTokens : estimatedOutput;
  // Without a reported prompt there is no cached share to trust: the bound pays full price.
  const cached =
    input === reported?.inputTokens && isCount(reported.cachedInputTokens ?? null)
      ? Math.min(reported.cachedInputTokens!, input)
      : 0;
  const { record } = request;
  record.inputTokens = input;
  record.outputTokens = output;
  record.cachedInputTokens = cached;
  record.cost = requestCost(
    { inputTokens: input, outputTokens: output, cachedInputTokens: cached },
    request.model,
  );
}

/** Settles first, so the client's next request sees this one charged. */
export async function sendJson(request: AdmittedRequest, body: Buffer | string): Promise<void> {
  request.trace?.answered(body);
  await request.complete();
  request.res.writeHead(200, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "x-request-id": request.record.requestId,
    "x-osm-cost-usd": formatUsd(request.record.cost),
  });
  request.res.end(body);
}

/** Parses a whole JSON answer; a provider that sent something else is an upstream error. */
export async function readJson(request: AdmittedRequest, upstream: UpstreamResponse) {
  const buffer = await readAll(upstream.body, undefined, request.signal);
  try {
    return { buffer, json: JSON.parse(buffer.toString("utf8")) as unknown };
  } catch {
    throw new GatewayError("upstream_error", "The provider's answer was not valid JSON.");
  }
}

/** The provider's error answer in the contract's terms, its message scrubbed of credentials. */
export async function upstreamError(
  request: Pick<AdmittedRequest, "signal" | "provider">,
  upstream: UpstreamResponse,
  extract: (json: unknown) => string | null,
): Promise<GatewayError> {
  const text = (await readAll(upstream.body, 1024 * 1024, request.signal)).toString("utf8");
  let message: string | null = null;
  try {
    message = extract(JSON.parse(text));
  } catch {
    message = null;
  }
  return upstreamStatusError(upstream.status, upstream.headers, message, [request.provider.apiKey]);
}

/** How one provider kind's stream reads to an OpenAI client. */
export type StreamTranslation = {
  /** The SSE text to send for one upstream event: none, one or several events. */
  onEvent(event: SseEvent): string[];
  /** True once the provider ended its answer properly. */
  finished(): boolean;
  /** Usage so far: charged however the stream ends. */
  usage(): { reported: ReportedUsage | null; estimatedOutput: number };
  /** A failure of the provider's own (not the transport's) in the contract's terms. */
  failure?(err: unknown, signal: RequestSignal): GatewayError | null;
  /**
   * Runs once a complete stream is charged, before it is settled: the SSE text it returns is
   * the stream's last (a translation's terminal event carrying the charged usage).
   */
  closing?(): Promise<string[]>;
};

/**
 * Relays a provider's stream to the client, then charges and settles before the last byte.
 * A failure after the headers went out is one error event and no [DONE].
 */
export async function relayStream(
  request: AdmittedRequest,
  upstream: UpstreamResponse,
  translation: StreamTranslation,
): Promise<void> {
  const { record, signal } = request;
  const client = new ClientStream(request.res, record.requestId);
  const parser = new SseParser();
  const send = (text: string) => {
    request.trace?.streamed(text);
    return client.write(text);
  };
  const account = () => {
    const usage = translation.usage();
    charge(request, usage.reported, usage.estimatedOutput);
  };
  // The events of one upstream read go out in one write: a write per event cost a socket write
  // (and a chunk header) each, the same bytes in more pieces. What was translated before a
  // failure is still sent ahead of the error event.
  const relay = async (events: SseEvent[]) => {
    let out = "";
    try {
      for (const event of events) for (const text of translation.onEvent(event)) out += text;
    } finally {
      if (out !== "") await send(out);
    }
  };
  try {
    client.start();
    for await (const chunk of upstream.body) await relay(parser.push(chunk as Buffer));
    await relay(parser.end());
    account();
    if (!translation.finished())
      throw new GatewayError("upstream_error", "The provider ended the stream early.");
    const closing = (await translation.closing?.()) ?? [];
    await request.complete();
    for (const text of closing) await send(text);
    client.end();
  } catch (err) {
    account();
    const failure = translation.failure?.(err, signal) ?? upstreamFailure(err, signal);
    record.fail(failure);
    await request.complete();
    client.fail(failure);
  }
}
