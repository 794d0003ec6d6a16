import type { IncomingHttpHeaders } from "node:http";

export type SpanValue = string | number | boolean | string[];
/** Unset values (null, undefined) are skipped, so callers pass what they know as it is. */
export type SpanAttributes = Record<string, SpanValue | null | undefined>;

export type SpanKind = "server" | "client" | "internal";

/** One span, as the apps use it: no OpenTelemetry type leaks past this package. */
export type TraceSpan = {
  set(attributes: SpanAttributes): void;
  rename(name: string): void;
  /** Ends as failed: `error.type` set, and the span's status an error when `fault` says so. */
  fail(errorType: string, options?: { fault?: boolean; message?: string }): void;
  /** A span under this one, and the headers (traceparent) that carry it to the callee. */
  child(
    name: string,
    kind: SpanKind,
    attributes?: SpanAttributes,
  ): { span: TraceSpan; headers: Record<string, string> };
  end(): void;
};

export type Tracer = {
  /** A root span, or one continuing the caller's trace when `incoming` carries a traceparent. */
  start(
    name: string,
    kind: SpanKind,
    attributes?: SpanAttributes,
    incoming?: IncomingHttpHeaders,
  ): TraceSpan;
  /** Exports what the batch holds now. */
  flush(): Promise<void>;
  /** Exports what is left, then stops; later spans are dropped. */
  shutdown(): Promise<void>;
};

export type TracingOptions = {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; traces go to `/v1/traces` under it. */
  endpoint: string | undefined;
  serviceName: string;
};

/**
 * The tracer when an endpoint is configured, else null. The SDK is imported only here, behind
 * the flag: a gateway without tracing loads none of it and pays one null check per request.
 */
export async function startTracing(options: TracingOptions): Promise<Tracer | null> {
  if (!options.endpoint) return null;
  const { createSdkTracer } = await import("./tracing-sdk.ts");
  return await createSdkTracer({ endpoint: options.endpoint, serviceName: options.serviceName });
}
