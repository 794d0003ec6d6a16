import type { IncomingMessage } from "node:http";
import type { Tracer, TraceSpan } from "@osm/observability/tracing";
import type { GatewayError } from "./errors.ts";
import { type RequestRecord, requestOutcome } from "./usage/request-record.ts";

// Attribute names of the OpenTelemetry GenAI semantic conventions, written out: the proxy
// imports nothing of OpenTelemetry itself, so with tracing off none of it is loaded.
const genAi = {
  operation: "gen_ai.operation.name",
  provider: "gen_ai.provider.name",
  requestModel: "gen_ai.request.model",
  responseModel: "gen_ai.response.model",
  responseId: "gen_ai.response.id",
  finishReasons: "gen_ai.response.finish_reasons",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
} as const;

// The GenAI operation each gateway route performs; the others (model list, stored responses)
// are plain HTTP spans.
const operations: Record<string, string> = {
  "/v1/chat/completions": "chat",
  "/v1/responses": "chat",
  "/v1/embeddings": "embeddings",
};

/** What an answer the client receives says about the provider's side, when it says it. */
type Answer = {
  id?: unknown;
  model?: unknown;
  choices?: { finish_reason?: unknown }[];
  response?: { id?: unknown; model?: unknown; status?: unknown };
};

/**
 * One gateway request's spans: a server span named `{operation} {model}` with the GenAI and
 * osm attributes, and a client span per upstream call whose context travels as `traceparent`.
 */
export class RequestTrace {
  private readonly span: TraceSpan;
  private readonly operation: string | undefined;
  private upstreamModel: string | null = null;
  private responseModel: string | null = null;
  private responseId: string | null = null;
  private readonly finishReasons: string[] = [];

  constructor(tracer: Tracer, req: IncomingMessage, route: string, requestId: string) {
    this.operation = operations[route];
    this.span = tracer.start(
      this.operation ?? `${req.method} ${route}`,
      "server",
      {
        [genAi.operation]: this.operation,
        "http.request.method": req.method,
        "http.route": route,
        "osm.request_id": requestId,
      },
      req.headers,
    );
  }

  /** The front half chose the provider and the model the provider is asked for. */
  routed(providerKind: string, upstreamModel: string): void {
    this.upstreamModel = upstreamModel;
    this.span.set({ [genAi.provider]: providerKind });
  }

  /** A whole JSON answer as sent to the client. */
  answered(body: Buffer | string): void {
    try {
      this.observe(JSON.parse(body.toString()) as Answer);
    } catch {
      // Not JSON: nothing to learn from it.
    }
  }

  /** SSE text as sent to the client: each `data:` event may name the model or a finish reason. */
  streamed(text: string): void {
    for (const line of text.split("\n")) {
      if (!line.startsWith("data: {")) continue;
      try {
        this.observe(JSON.parse(line.slice(6)) as Answer);
      } catch {
        // A partial or foreign event: skipped.
      }
    }
  }

  private observe(answer: Answer): void {
    const source = answer.response ?? answer;
    if (typeof source.model === "string") this.responseModel = source.model;
    if (typeof source.id === "string") this.responseId = source.id;
    for (const choice of Array.isArray(answer.choices) ? answer.choices : []) {
      if (typeof choice?.finish_reason === "string") this.finishReasons.push(choice.finish_reason);
    }
    if (answer.response && typeof answer.response.status === "string") {
      this.finishReasons.push(answer.response.status);
    }
  }

  /** A client span for one upstream call; its headers carry the trace to the provider. */
  upstream(method: string, target: URL) {
    const server = {
      "server.address": target.hostname,
      "server.port": Number(target.port) || (target.protocol === "https:" ? 443 : 80),
    };
    this.span.set(server);
    const { span, headers } = this.span.child(
      this.operation && this.upstreamModel
        ? `${this.operation} ${this.upstreamModel}`
        : `${method} ${target.pathname}`,
      "client",
      {
        ...server,
        [genAi.operation]: this.operation,
        [genAi.requestModel]: this.upstreamModel,
        "http.request.method": method,
      },
    );
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      span.end();
    };
    return {
      headers,
      /** The provider answered with headers; the span lasts until its body is done. */
      responded(status: number, body: NodeJS.ReadableStream) {
        span.set({ "http.response.status_code": status });
        if (status >= 400) span.fail(String(status), { fault: status >= 500 });
        body.once("close", end);
        body.once("error", end);
        body.once("end", end);
      },
      failed(failure: GatewayError) {
        span.fail(failure.code, { fault: true, message: failure.message });
        end();
      },
    };
  }

  /** Ends the server span with what the request came to. */
  end(record: RequestRecord | null, status: number, refusedCode: string): void {
    const code = record ? record.code : refusedCode || null;
    const outcome = record ? requestOutcome(record.code) : "unauthenticated";
    const charged = record !== null && record.inputTokens + record.outputTokens > 0;
    if (this.operation && record?.model) this.span.rename(`${this.operation} ${record.model}`);
    this.span.set({
      [genAi.requestModel]: record?.model,
      [genAi.responseModel]: this.responseModel,
      [genAi.responseId]: this.responseId,
      [genAi.finishReasons]: this.finishReasons.length > 0 ? this.finishReasons : null,
      [genAi.inputTokens]: charged ? record.inputTokens : null,
      [genAi.outputTokens]: charged ? record.outputTokens : null,
      "http.response.status_code": status,
      "osm.key_id": record?.key.id,
      "osm.project_id": record?.key.projectId,
      "osm.outcome": outcome,
      "osm.denial_code": outcome === "denied" ? code : null,
    });
    if (code) this.span.fail(code, { fault: status >= 500 });
    this.span.end();
  }
}
