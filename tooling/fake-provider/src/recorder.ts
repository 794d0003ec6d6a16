import type { Behaviour } from "./behaviour.ts";

export type RequestOutcome = "pending" | "completed" | "aborted" | "reset";

// One entry per API request (control requests under /_fake/ are not recorded). The object is
// updated in place while its response runs, so a test holding it sees the outcome land.
export type RecordedRequest = {
  // 1-based, in arrival order, never reused (not even across reset()).
  id: number;
  method: string;
  path: string;
  // Node lowercases header names; repeated headers are joined with ", ".
  headers: Record<string, string>;
  // Parsed JSON; null while the body is still being read, when it was empty or not JSON.
  body: unknown;
  model: string | null;
  behaviour: Behaviour | null;
  // Epoch milliseconds when the request arrived and when its response ended either way.
  time: number;
  finishedAt: number | null;
  // HTTP status sent, null if the response never got as far as headers.
  status: number | null;
  outcome: RequestOutcome;
  // The client went away before the response was complete.
  aborted: boolean;
};

export type Recorder = {
  readonly requests: RecordedRequest[];
  start(init: { method: string; path: string; headers: Record<string, string> }): RecordedRequest;
  identify(record: RecordedRequest, model: string | null): void;
  countFor(model?: string): number;
  reset(): void;
};

// Counts are kept apart from the capped list so countFor stays exact in long benchmark runs.
export function createRecorder(maxRecorded: number): Recorder {
  const requests: RecordedRequest[] = [];
  const perModel = new Map<string, number>();
  let total = 0;
  let nextId = 1;
  return {
    requests,
    start(init) {
      const record: RecordedRequest = {
        id: nextId++,
        ...init,
        body: null,
        model: null,
        behaviour: null,
        time: Date.now(),
        finishedAt: null,
        status: null,
        outcome: "pending",
        aborted: false,
      };
      total++;
      requests.push(record);
      if (requests.length > maxRecorded) requests.splice(0, requests.length - maxRecorded);
      return record;
    },
    identify(record, model) {
      record.model = model;
      if (model !== null) perModel.set(model, (perModel.get(model) ?? 0) + 1);
    },
    countFor(model) {
      return model === undefined ? total : (perModel.get(model) ?? 0);
    },
    reset() {
      requests.length = 0;
      perModel.clear();
      total = 0;
    },
  };
}
