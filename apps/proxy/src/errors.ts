import type { ServerResponse } from "node:http";

/** The closed set of gateway error codes, each with its HTTP status and OpenAI-style type. */
export const errorCodes = {
  invalid_api_key: { status: 401, type: "authentication_error" },
  key_expired: { status: 401, type: "authentication_error" },
  key_inactive: { status: 403, type: "permission_error" },
  model_not_allowed: { status: 403, type: "policy_violation" },
  provider_blocked: { status: 403, type: "policy_violation" },
  tier_not_allowed: { status: 403, type: "policy_violation" },
  price_limit_exceeded: { status: 403, type: "policy_violation" },
  spending_limit_reached: { status: 403, type: "budget_exceeded" },
  max_tokens_exceeded: { status: 400, type: "invalid_request_error" },
  rate_limit_exceeded: { status: 429, type: "rate_limit_error" },
  model_not_found: { status: 404, type: "invalid_request_error" },
  invalid_request: { status: 400, type: "invalid_request_error" },
  not_found: { status: 404, type: "invalid_request_error" },
  method_not_allowed: { status: 405, type: "invalid_request_error" },
  request_timeout: { status: 408, type: "invalid_request_error" },
  request_too_large: { status: 413, type: "invalid_request_error" },
  headers_too_large: { status: 431, type: "invalid_request_error" },
  upstream_invalid_request: { status: 400, type: "invalid_request_error" },
  upstream_rate_limited: { status: 429, type: "rate_limit_error" },
  upstream_error: { status: 502, type: "upstream_error" },
  upstream_auth_failed: { status: 502, type: "upstream_error" },
  upstream_timeout: { status: 504, type: "upstream_error" },
  service_unavailable: { status: 503, type: "service_unavailable" },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;
  readonly retryAfterSeconds: number | null;
  /** The refusal means the key hit its spending limit (the worker then flags the key). */
  readonly limitHit: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      param?: string | null;
      status?: number;
      retryAfterSeconds?: number | null;
      limitHit?: boolean;
    } = {},
  ) {
    super(message);
    this.code = code;
    // A provider's own 4xx status passes through for upstream_invalid_request.
    this.status = options.status ?? errorCodes[code].status;
    this.param = options.param ?? null;
    this.retryAfterSeconds = options.retryAfterSeconds ?? null;
    this.limitHit = options.limitHit ?? false;
  }
}

/** The contract's body: OpenAI SDKs read error.message; the seed's status and message sit on top. */
export function errorBody(err: GatewayError) {
  return {
    error: {
      message: err.message,
      type: errorCodes[err.code].type,
      code: err.code,
      param: err.param,
    },
    status: err.status,
    message: err.message,
  };
}

export function sendError(
  res: ServerResponse,
  err: GatewayError,
  headers: Record<string, string> = {},
) {
  if (res.headersSent) return;
  const body = JSON.stringify(errorBody(err));
  res.writeHead(err.status, {
    ...headers,
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    ...(err.retryAfterSeconds !== null ? { "Retry-After": String(err.retryAfterSeconds) } : {}),
  });
  res.end(body);
}

/** After SSE headers went out, a failure is one error event and no [DONE]. */
export function sseErrorEvent(err: GatewayError): string {
  return `data: ${JSON.stringify({ error: errorBody(err).error })}\n\n`;
}
