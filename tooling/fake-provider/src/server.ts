import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { anthropicError, handleAnthropic } from "./anthropic.ts";
import { type Behaviour, parseBehaviour } from "./behaviour.ts";
import { deliver } from "./deliver.ts";
import { isRecord } from "./guards.ts";
import {
  acceptsGzip,
  flattenHeaders,
  type ParsedBody,
  parseJsonBody,
  readBody,
} from "./http-request.ts";
import { handleOpenAI, openaiError } from "./openai.ts";
import { createRecorder, type RecordedRequest, type Recorder } from "./recorder.ts";
import { createResponseStore, type ResponseStore } from "./response-store.ts";
import { handleResponses } from "./responses.ts";
import { type ApiRoute, type RouteMiss, route } from "./routes.ts";
import { createScriptBook, type ScriptBook } from "./script-book.ts";
import type { Reply, WireRequest } from "./wire.ts";

export type {
  Behaviour,
  FaultStage,
  ToolCallScript,
  UsageOverride,
} from "./behaviour.ts";
export { parseBehaviour } from "./behaviour.ts";
export type { RecordedRequest, RequestOutcome } from "./recorder.ts";
export {
  defaultOutputTokens,
  defaultWords,
  embeddingTokens,
  messageTokens,
  promptTokens,
  splitWords,
} from "./tokens.ts";

export type FakeProviderOptions = {
  // 0 (the default) picks a free port.
  port?: number;
  host?: string;
  // Older entries of `requests` are dropped past this; countFor stays exact regardless.
  maxRecorded?: number;
};

export type FakeProvider = {
  url: string;
  port: number;
  // As each vendor's SDK takes it: OpenAI's includes the version, Anthropic's is the host root.
  openaiBaseUrl: string;
  anthropicBaseUrl: string;
  readonly requests: readonly RecordedRequest[];
  // Behaviour for requests naming this upstream model; a later call replaces it.
  script(model: string, behaviour: Behaviour): void;
  // One-shot, FIFO, applies to the next API request whatever its model.
  scriptNext(behaviour: Behaviour): void;
  // Forgets scripts, the queue, recorded requests and counts.
  reset(): void;
  // Requests received naming this model, or all API requests without an argument.
  countFor(model?: string): number;
  close(): Promise<void>;
};

// Listed by GET /v1/models besides every scripted model.
const listedModels = [
  "gpt-4o-mini",
  "gpt-4o",
  "text-embedding-3-small",
  "claude-3-5-haiku-latest",
  "claude-sonnet-4-5",
];

// Bounds memory in long demo and benchmark runs while keeping any test's history whole.
const defaultMaxRecorded = 10_000;

type State = { recorder: Recorder; scripts: ScriptBook; responses: ResponseStore };

export async function startFakeProvider(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  const host = options.host ?? "127.0.0.1";
  const state: State = {
    recorder: createRecorder(options.maxRecorded ?? defaultMaxRecorded),
    scripts: createScriptBook(),
    responses: createResponseStore(options.maxRecorded ?? defaultMaxRecorded),
  };
  const server = createServer((req, res) => {
    handle(req, res, state).catch((error: unknown) => failUnexpectedly(res, error));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${urlHost(host)}:${port}`;
  let closing: Promise<void> | null = null;

  return {
    url,
    port,
    openaiBaseUrl: `${url}/v1`,
    anthropicBaseUrl: url,
    get requests() {
      return state.recorder.requests;
    },
    script(model, behaviour) {
      state.scripts.script(model, parseBehaviour(behaviour));
    },
    scriptNext(behaviour) {
      state.scripts.next(parseBehaviour(behaviour));
    },
    reset() {
      resetState(state);
    },
    countFor(model) {
      return state.recorder.countFor(model);
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Hanging and keep-alive connections would otherwise hold close() open forever.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

// A wildcard bind is reachable on loopback; IPv6 literals need brackets in a URL.
function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

async function handle(req: IncomingMessage, res: ServerResponse, state: State): Promise<void> {
  const path = new URL(req.url ?? "/", "http://fake-provider").pathname;
  const method = req.method ?? "GET";
  const headers = flattenHeaders(req.headers);
  if (path.startsWith("/_fake/")) return handleControl(req, res, method, path, state);

  const record = state.recorder.start({ method, path, headers });
  const abort = new AbortController();
  res.on("finish", () => {
    record.outcome = "completed";
  });
  // "close" follows "finish" on success; without it first, the client went away.
  res.on("close", () => {
    record.finishedAt = Date.now();
    record.status = res.headersSent ? res.statusCode : null;
    if (record.outcome === "pending") {
      record.outcome = "aborted";
      record.aborted = true;
    }
    abort.abort();
  });

  let raw: Buffer;
  try {
    raw = await readBody(req);
  } catch {
    return;
  }
  const { body, invalid } = parseJsonBody(raw);
  record.body = body;
  const model = isRecord(body) && typeof body["model"] === "string" ? body["model"] : null;
  state.recorder.identify(record, model);

  const matched = route(method, path, headers);
  // Unknown routes do not consume scripted behaviour: they are client mistakes, not calls.
  const behaviour = matched.kind === "api" ? state.scripts.pick(model) : {};
  record.behaviour = behaviour;
  const reply =
    matched.kind === "api"
      ? answer(matched, state, {
          headers,
          body,
          bodyInvalid: invalid,
          behaviour,
          knownModels: [...new Set([...listedModels, ...state.scripts.scriptedModels()])],
        })
      : missReply(matched);

  try {
    await deliver(reply, {
      res,
      behaviour,
      signal: abort.signal,
      acceptsGzip: acceptsGzip(headers["accept-encoding"]),
      seed: record.id,
      onReset: () => {
        record.outcome = "reset";
      },
    });
  } catch (error) {
    // Waits and writes reject once the client is gone; that is already recorded.
    if (!abort.signal.aborted) throw error;
  }
}

function answer(matched: ApiRoute, state: State, request: WireRequest): Reply {
  if ("responseId" in matched) {
    return handleResponses(matched.endpoint, matched.responseId, request, state.responses);
  }
  return matched.wire === "openai"
    ? handleOpenAI(matched.endpoint, request)
    : handleAnthropic(matched.endpoint, request);
}

function missReply(miss: RouteMiss): Reply {
  const message = miss.status === 404 ? "Unknown request URL." : "Method not allowed.";
  const reply =
    miss.wire === "openai"
      ? openaiError(miss.status, message, {})
      : anthropicError(miss.status, message, {});
  if (miss.allow) reply.headers["allow"] = miss.allow;
  return reply;
}

const controlPaths = new Set(["/_fake/script", "/_fake/next", "/_fake/requests", "/_fake/reset"]);

// Lets tests that run the fake in another process script and inspect it over HTTP.
async function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  path: string,
  state: State,
): Promise<void> {
  if (!controlPaths.has(path))
    return sendControl(res, 404, { error: `unknown control path ${path}` });
  const expected = path === "/_fake/requests" ? "GET" : "POST";
  if (method !== expected) return sendControl(res, 405, { error: `use ${expected} ${path}` });
  if (path === "/_fake/requests") return sendControl(res, 200, state.recorder.requests);

  let parsed: ParsedBody;
  try {
    parsed = parseJsonBody(await readBody(req));
  } catch {
    return;
  }
  try {
    applyControl(path, parsed, state);
  } catch (error) {
    if (error instanceof TypeError) return sendControl(res, 400, { error: error.message });
    throw error;
  }
  sendControl(res, 200, { ok: true });
}

// Throws TypeError for a malformed command, answered with 400.
function applyControl(path: string, parsed: ParsedBody, state: State): void {
  if (parsed.invalid) throw new TypeError("body is not valid JSON");
  const { body } = parsed;
  if (path === "/_fake/script") {
    if (!isRecord(body) || typeof body["model"] !== "string" || body["model"] === "") {
      throw new TypeError("expected {model: string, behaviour: object}");
    }
    state.scripts.script(body["model"], parseBehaviour(body["behaviour"]));
  } else if (path === "/_fake/next") {
    if (!isRecord(body)) throw new TypeError("expected {behaviour: object}");
    state.scripts.next(parseBehaviour(body["behaviour"]));
  } else {
    resetState(state);
  }
}

function resetState(state: State): void {
  state.recorder.reset();
  state.scripts.reset();
  state.responses.reset();
}

function sendControl(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

function failUnexpectedly(res: ServerResponse, error: unknown): void {
  process.stderr.write(`fake-provider: unexpected error: ${String(error)}\n`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendControl(res, 500, {
    error: { message: "fake-provider internal error", type: "server_error" },
  });
}
