import type { IncomingHttpHeaders } from "node:http";
import type { Attributes, Context, SpanKind as OtelSpanKind, Span } from "@opentelemetry/api";
import type { SpanAttributes, SpanKind, Tracer, TraceSpan } from "./tracing.ts";

/**
 * The OpenTelemetry SDK behind the `Tracer` shape: batch export over OTLP/HTTP (JSON). Its
 * packages are imported here, dynamically: a bundler hoists static imports of external packages
 * to the top of the bundle, which would load them with tracing off.
 */
export async function createSdkTracer(options: {
  endpoint: string;
  serviceName: string;
}): Promise<Tracer> {
  const [otel, core, exporterModule, resources, sdk, semconv] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/core"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/semantic-conventions"),
  ]);
  const { ROOT_CONTEXT, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace } = otel;
  const kinds: Record<SpanKind, OtelSpanKind> = {
    server: otel.SpanKind.SERVER,
    client: otel.SpanKind.CLIENT,
    internal: otel.SpanKind.INTERNAL,
  };
  const exporter = new exporterModule.OTLPTraceExporter({
    url: `${options.endpoint.replace(/\/+$/, "")}/v1/traces`,
  });
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({
      [semconv.ATTR_SERVICE_NAME]: options.serviceName,
    }),
    spanProcessors: [new sdk.BatchSpanProcessor(exporter)],
  });
  // Not registered globally: each app (and each test's app) owns its provider.
  const tracer = provider.getTracer("osm");
  const propagator = new core.W3CTraceContextPropagator();

  const wrap = (span: Span): TraceSpan => ({
    set(attributes) {
      span.setAttributes(defined(attributes));
    },
    rename(name) {
      span.updateName(name);
    },
    fail(errorType, failure = {}) {
      span.setAttribute(semconv.ATTR_ERROR_TYPE, errorType);
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

function defined(attributes: SpanAttributes | undefined): Attributes {
  const out: Attributes = {};
  if (!attributes) return out;
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) out[name] = value;
  }
  return out;
}
