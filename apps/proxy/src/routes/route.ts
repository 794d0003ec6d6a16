import type { IncomingMessage, ServerResponse } from "node:http";
import type { GatewayDeps } from "../deps.ts";
import type { RequestSignal } from "../request-abort.ts";
import type { RequestTrace } from "../request-trace.ts";
import type { RequestRecord } from "../usage/request-record.ts";

/** One authenticated gateway request as every route handler receives it. */
export type Route = {
  deps: GatewayDeps;
  record: RequestRecord;
  req: IncomingMessage;
  res: ServerResponse;
  signal: RequestSignal;
  /** This request's spans when tracing is on, else null. */
  trace: RequestTrace | null;
  /** Settles and records the request; awaited before the response's last byte. */
  complete(): Promise<void>;
};
