import { responsesPromptTokenBound } from "@osm/policy/pricing";
import { GatewayError } from "../errors.ts";
import { openAiResponseAction, type ResponseAction } from "../providers/openai/responses.ts";
import { endUserField, parseJsonBody } from "../request-fields.ts";
import {
  type ResponsesFields,
  responsesFields,
  unpricedPrevious,
} from "../responses/request-fields.ts";
import { admitRequest } from "./front-half.ts";
import type { Route } from "./route.ts";

/** POST /v1/responses: the same front half as chat, then the provider kind's adapter. */
export async function createResponse(route: Route, rawBody: Buffer): Promise<void> {
  const body = parseJsonBody(rawBody);
  const fields = responsesFields(body);
  route.record.endUser = endUserField(body);
  const promptTokens = await promptBound(route, body, fields);
  const { request, handler } = await admitRequest(route, {
    operation: "responses",
    body,
    fields,
    model: fields.model,
    stream: fields.stream,
    promptTokens,
    output: { explicit: fields.maxOutputTokens, param: "max_output_tokens", n: 1 },
  });
  await handler(request);
}

/**
 * The prompt's worst case. A key with a spending limit must reserve it, so context the body
 * does not show is refused, except a previous response this gateway forwarded for the same
 * project: its recorded context (input + output tokens) bounds what it adds. The adapter checks
 * that it continues on the provider that holds it.
 */
async function promptBound(
  route: Route,
  body: Record<string, unknown>,
  fields: ResponsesFields,
): Promise<number> {
  const base = responsesPromptTokenBound(body);
  const { key } = route.record;
  if (key.spendLimit === null) return base;
  if (fields.unpriceable) {
    throw new GatewayError(
      "invalid_request",
      `${fields.unpriceable.what} cannot be priced before it is forwarded, so it is refused on keys with a spending limit.`,
      { param: fields.unpriceable.param },
    );
  }
  if (fields.previousResponseId === undefined) return base;
  const previous = await route.deps.responses.find(fields.previousResponseId);
  if (previous?.projectId !== key.projectId) throw unpricedPrevious(fields.previousResponseId);
  fields.previous = previous;
  return base + previous.contextTokens;
}

const responseIdPattern = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * GET / DELETE /v1/responses/{id} and POST …/cancel, forwarded to the provider that created the
 * response, and only for the project whose key created it: others get the same 404 as an
 * unknown id, so a response's existence does not leak across projects.
 */
export async function forwardResponseAction(route: Route, action: ResponseAction, id: string) {
  const { deps, record } = route;
  const notFound = () =>
    new GatewayError("not_found", `No response with id ${id.slice(0, 100)} in this project.`);
  if (!responseIdPattern.test(id)) throw notFound();
  const stored = await deps.responses.find(id);
  if (stored?.projectId !== record.key.projectId) throw notFound();
  const catalog = await deps.catalogs.get(record.key.projectId);
  const provider = catalog.providers.get(stored.provider);
  if (provider?.kind !== "openai") throw notFound();
  record.provider = provider.id;
  await openAiResponseAction(route, provider, action, id);
  if (action === "delete") await deps.responses.forget(id);
}

export type { ResponseAction };
