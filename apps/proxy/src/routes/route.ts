import type { IncomingMessage, ServerResponse } from "node:http";
import type { GatewayDeps } from "../deps.ts";
import type { RequestRecord } from "../usage/request-record.ts";

/** One authenticated gateway request as every route handler receives it. */
export type Route = {
  deps: GatewayDeps;
  record: RequestRecord;
  req: IncomingMessage;
  res: ServerResponse;
  signal: AbortSignal;
  /** Settles and records the request; awaited before the response's last byte. */
  complete(): Promise<void>;
};
