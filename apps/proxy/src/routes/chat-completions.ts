import { promptTokenBound } from "@osm/policy/pricing";
import { chatFields, endUserField, parseJsonBody } from "../request-fields.ts";
import { admitRequest } from "./front-half.ts";
import type { Route } from "./route.ts";

/** POST /v1/chat/completions */
export async function chatCompletions(route: Route, rawBody: Buffer): Promise<void> {
  const body = parseJsonBody(rawBody);
  const fields = chatFields(body);
  route.record.endUser = endUserField(body);
  const { request, handler } = await admitRequest(route, {
    operation: "chat",
    body,
    fields,
    model: fields.model,
    stream: fields.stream,
    promptTokens: promptTokenBound(body as never),
    output: { explicit: fields.maxOutputTokens, param: fields.maxOutputTokensParam, n: fields.n },
  });
  await handler(request);
}
