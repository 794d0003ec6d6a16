import type { IncomingHttpHeaders } from "node:http";
import {
  type Attributes,
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { SpanAttributes, Tracer, TraceSpan, SpanKind as TraceSpanKind } from "./tracing.ts";

const kinds: Record<TraceSpanKind, SpanKind> = {
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  internal: SpanKind.INTERNAL,
};

function defined(attributes: SpanAttributes | undefined): Attributes {
  const out: Attributes = {};
  if (!attributes) return out;
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) out[name] = value;
  }
  return out;
}

/** The OpenTelemetry SDK behind the `Tracer` shape: batch export over OTLP/HTTP (JSON). */
export function createSdkTracer(options: { endpoint: string; serviceName: string }): Tracer {
  const exporter = new OTLPTraceExporter({
    url: `${options.endpoint.replace(/\/+$/, "")}/v1/traces`,
  });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // Not registered globally: each app (and each test's app) owns its provider.
  const tracer = provider.getTracer("osm");
  const propagator = new W3CTraceContextPropagator();

  const wrap = (span: Span): TraceSpan => ({
    set(attributes) {
      span.setAttributes(defined(attributes));
    },
    rename(name) {
      span.updateName(name);
    },
    fail(errorType, failure = {}) {
      span.setAttribute(ATTR_ERROR_TYPE, errorType);
      if (failure.fault) span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    },
    child(name, kind, attributes) {
      const parent = trace.setSpan(ROOT_CONTEXT, span);
      const child = tracer.startSpan(
        name,
        { kind: kinds[kind], attributes: defined(attributes) },
        parent,
      );
      const headers: Record<string, string> = {};
      propagator.inject(trace.setSpan(ROOT_CONTEXT, child), headers, defaultTextMapSetter);
      return { span: wrap(child), headers };
    },
    end() {
      span.end();
    },
  });

  return {
    start(name, kind, attributes, incoming?: IncomingHttpHeaders) {
      const parent: Context = incoming
        ? propagator.extract(ROOT_CONTEXT, incoming, defaultTextMapGetter)
        : ROOT_CONTEXT;
      return wrap(
        tracer.startSpan(name, { kind: kinds[kind], attributes: defined(attributes) }, parent),
      );
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
