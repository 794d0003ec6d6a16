import type { ServerResponse } from "node:http";
import { policyDenial } from "@osm/policy/evaluate";
import type { GatewayDeps } from "../deps.ts";
import type { RequestRecord } from "../usage/request-record.ts";

/** GET /v1/models: only the active models this key's policy lets it use. */
export async function listModels(
  deps: GatewayDeps,
  record: RequestRecord,
  res: ServerResponse,
): Promise<void> {
  const catalog = await deps.catalogs.get(record.key.projectId);
  const created = Math.floor(record.admittedAt.getTime() / 1000);
  const data = [];
  for (const model of catalog.models.values()) {
    const provider = catalog.providers.get(model.providerId);
    if (!model.active || !provider) continue;
    const denial = policyDenial(record.key.policy, { model: model.id }, model, provider);
    if (denial && record.key.policy.mode !== "shadow") continue;
    data.push({ id: model.id, object: "model", created, owned_by: provider.id });
  }
  data.sort((a, b) => a.id.localeCompare(b.id));
  const body = JSON.stringify({ object: "list", data });
  res.writeHead(200, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "x-request-id": record.requestId,
  });
  res.end(body);
}
