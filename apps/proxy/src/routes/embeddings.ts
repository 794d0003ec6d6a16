import { promptTokenBound } from "@osm/policy/pricing";
import { embeddingFields, parseJsonBody } from "../request-fields.ts";
import { admitRequest } from "./front-half.ts";
import type { Route } from "./route.ts";

/** POST /v1/embeddings */
export async function embeddings(route: Route, rawBody: Buffer): Promise<void> {
  const body = parseJsonBody(rawBody);
  const fields = embeddingFields(body);
  const { request, handler } = await admitRequest(route, {
    operation: "embeddings",
    body,
    fields,
    model: fields.model,
    stream: false,
    promptTokens: promptTokenBound({ input: fields.input }),
    output: null,
  });
  await handler(request);
}
