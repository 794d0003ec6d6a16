import type { IncomingHttpHeaders } from "node:http";
import type { Tracer } from "@osm/observability/tracing";
import type { TRPCError } from "@trpc/server";

/**
 * One server span per tRPC procedure call (a batch is one span per call in it), named by the
 * procedure, continuing the caller's trace when it sent a traceparent.
 */
export async function tracedCall<R extends { ok: boolean; error?: TRPCError }>(
  tracer: Tracer,
  call: { path: string; type: string; requestId: string; headers: IncomingHttpHeaders },
  next: () => Promise<R>,
): Promise<R> {
  const span = tracer.start(
    call.path,
    "server",
    {
      "rpc.system": "trpc",
      "rpc.method": call.path,
      "osm.procedure_type": call.type,
      "osm.request_id": call.requestId,
    },
    call.headers,
  );
  try {
    const result = await next();
    if (!result.ok && result.error) {
      span.fail(result.error.code, { fault: result.error.code === "INTERNAL_SERVER_ERROR" });
    }
    return result;
  } finally {
    span.end();
  }
}
