import type { JsonRecord } from "./guards.ts";

// Stored Responses objects, for GET / DELETE / cancel and for previous_response_id. Oldest
// entries are dropped past the cap so a long benchmark run stays bounded.
export type ResponseStore = {
  get(id: string): JsonRecord | undefined;
  put(response: JsonRecord & { id: string }): void;
  delete(id: string): boolean;
  reset(): void;
};

export function createResponseStore(maxStored: number): ResponseStore {
  const byId = new Map<string, JsonRecord>();
  return {
    get: (id) => byId.get(id),
    put(response) {
      byId.set(response.id, response);
      if (byId.size > maxStored) {
        const oldest = byId.keys().next().value;
        if (oldest !== undefined) byId.delete(oldest);
      }
    },
    delete: (id) => byId.delete(id),
    reset: () => byId.clear(),
  };
}
