import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GatewayStack, proxyProcessEnv, startGatewayStack } from "@osm/testing/gateway";
import { type ReceivedSpan, startOtlpReceiver } from "@osm/testing/otlp-receiver";
import { freePort } from "@osm/testing/services";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Traces through the real interface: the openai SDK against the proxy, a tRPC client against
// the API, both exporting with the OpenTelemetry SDK to an OTLP/HTTP (JSON) receiver here.

const serverKind = 2;
const clientKind = 3;

let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let stack: GatewayStack;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  stack = await startGatewayStack({ otlpEndpoint: receiver.url }, { otlpEndpoint: receiver.url });
});
afterAll(async () => {
  await stack.close();
  await receiver.close();
});

async function flushProxy() {
  await stack.proxies[0]!.deps.tracer!.flush();
}

function requestSpan(requestId: string | null): ReceivedSpan {
  const found = receiver.spans.filter(
    (s) => s.kind === serverKind && s.attributes["osm.request_id"] === requestId,
  );
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** The SDK's error for a request the gateway refused. */
async function refusal(request: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const outcome = await request.then(
    () => null,
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(OpenAI.APIError);
  return outcome as InstanceType<typeof OpenAI.APIError>;
}

function upstreamSpans(parent: ReceivedSpan): ReceivedSpan[] {
  return receiver.spans.filter((s) => s.parentSpanId === parent.spanId);
}

describe("proxy traces", () => {
  it("a JSON chat: a `chat {model}` span with the GenAI attributes, its upstream child span, and the traceparent the provider saw", async () => {
    const t = await stack.tenant();
    const { data, response } = await stack
      .openai(t.secret)
      .chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "Hello!" }],
      })
      .withResponse();
    await flushProxy();

    const span = requestSpan(response.headers.get("x-request-id"));
    expect(span.service).toBe("osm-proxy");
    expect(span.name).toBe("chat gpt-4o-mini");
    expect(span.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o-mini",
      "gen_ai.response.model": data.model,
      "gen_ai.response.id": data.id,
      "gen_ai.response.finish_reasons": [data.choices[0]!.finish_reason],
      "gen_ai.usage.input_tokens": data.usage!.prompt_tokens,
      "gen_ai.usage.output_tokens": data.usage!.completion_tokens,
      "server.address": "127.0.0.1",
      "http.response.status_code": 200,
      "osm.key_id": t.key.id,
      "osm.project_id": t.projectId,
      "osm.outcome": "allowed",
    });
    expect(span.attributes).not.toHaveProperty("error.type");

    const children = upstreamSpans(span);
    expect(children).toHaveLength(1);
    const upstream = children[0]!;
    expect(upstream).toMatchObject({ traceId: span.traceId, kind: clientKind });
    expect(upstream.name).toBe("chat gpt-4o-mini");
    expect(upstream.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "gpt-4o-mini",
      "http.request.method": "POST",
      "http.response.status_code": 200,
      "server.address": "127.0.0.1",
    });
    const seen = stack.fake.requests.filter((r) => r.headers.traceparent?.includes(span.traceId));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers.traceparent).toBe(`00-${span.traceId}-${upstream.spanId}-01`);
    // The gateway's own credential never ends up in a span.
    expect(JSON.stringify(receiver.spans)).not.toContain(t.secret);
    expect(JSON.stringify(receiver.spans)).not.toContain("sk-upstream-secret-123");
  });

  it("a stream: the span covers it to the end, with the streamed model, finish reason and usage", async () => {
    const t = await stack.tenant();
    const { data: stream, response } = await stack
      .openai(t.secret)
      .chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "Hello!" }],
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    let model = "";
    let finish = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      model = chunk.model;
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    await flushProxy();

    const span = requestSpan(response.headers.get("x-request-id"));
    expect(finish).not.toBe("");
    expect(span.name).toBe("chat gpt-4o-mini");
    expect(span.attributes).toMatchObject({
      "gen_ai.response.model": model,
      "gen_ai.response.finish_reasons": [finish],
      "gen_ai.usage.input_tokens": usage!.prompt_tokens,
      "gen_ai.usage.output_tokens": usage!.completion_tokens,
      "osm.outcome": "allowed",
    });
    const [upstream] = upstreamSpans(span);
    expect(upstream?.kind).toBe(clientKind);
    expect(
      stack.fake.requests.some(
        (r) => r.headers.traceparent === `00-${span.traceId}-${upstream!.spanId}-01`,
      ),
    ).toBe(true);
  });

  it("a denial: outcome, denial code and error.type on the span, and no upstream span", async () => {
    const t = await stack.tenant();
    const client = stack.openai(t.secret);
    const error = await refusal(
      client.chat.completions.create({
        model: "no-such-model",
        messages: [{ role: "user", content: "hi" }],
      }),
    );
    expect(error.status).toBe(404);
    await flushProxy();

    const span = requestSpan(error.headers?.get("x-request-id") ?? null);
    expect(span.name).toBe("chat no-such-model");
    expect(span.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "no-such-model",
      "http.response.status_code": 404,
      "osm.key_id": t.key.id,
      "osm.outcome": "denied",
      "osm.denial_code": "model_not_found",
      "error.type": "model_not_found",
    });
    // A refusal is the client's error, not the gateway's: the span status stays unset.
    expect(span.status?.code ?? 0).toBe(0);
    expect(upstreamSpans(span)).toEqual([]);

    const refused = await refusal(
      stack.openai("osm_not_a_key").chat.completions.create({ model: "gpt-4o-mini", messages: [] }),
    );
    expect(refused.status).toBe(401);
    await flushProxy();
    expect(requestSpan(refused.headers?.get("x-request-id") ?? null).attributes).toMatchObject({
      "osm.outcome": "unauthenticated",
      "error.type": "invalid_api_key",
    });
  });

  it("continues a client's trace when the request carries a traceparent", async () => {
    const t = await stack.tenant();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const { response } = await stack
      .openai(t.secret)
      .embeddings.create(
        { model: "text-embedding-3-small", input: "hello" },
        { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } },
      )
      .withResponse();
    await flushProxy();
    const span = requestSpan(response.headers.get("x-request-id"));
    expect(span).toMatchObject({ traceId, parentSpanId: "00f067aa0ba902b7" });
    expect(span.name).toBe("embeddings text-embedding-3-small");
    expect(span.attributes["gen_ai.operation.name"]).toBe("embeddings");
  });

  it("exports the batch on graceful shutdown, without a flush", async () => {
    const proxy = await stack.addProxy({ otlpEndpoint: receiver.url });
    const t = await stack.tenant();
    const { response } = await stack
      .openai(t.secret, proxy)
      .chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "hi" }],
      })
      .withResponse();
    const requestId = response.headers.get("x-request-id");
    await proxy.close();
    expect(requestSpan(requestId).attributes["osm.outcome"]).toBe("allowed");
    expect([...receiver.contentTypes]).toEqual(["application/json"]);
  });
});

describe("API traces", () => {
  it("one span per tRPC procedure, named by it, failed ones with error.type", async () => {
    const project = await stack.master.projects.create.mutate({ name: "traced" });
    await expect(
      stack.master.keys.create.mutate({ projectId: "prj_missing", label: "x" }),
    ).rejects.toMatchObject({ data: { code: "NOT_FOUND" } });
    await stack.api.services.tracer!.flush();

    const created = receiver.spans.filter(
      (s) => s.service === "osm-api" && s.name === "projects.create",
    );
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(created.at(-1)!.attributes).toMatchObject({
      "rpc.system": "trpc",
      "rpc.method": "projects.create",
      "osm.procedure_type": "mutation",
    });
    expect(created.at(-1)!.attributes).not.toHaveProperty("error.type");
    expect(project.id).toMatch(/^prj_/);
    const failed = receiver.spans.filter(
      (s) => s.service === "osm-api" && s.name === "keys.create",
    );
    expect(failed.at(-1)!.attributes).toMatchObject({ "error.type": "NOT_FOUND" });
  });
});

describe("tracing off", () => {
  // Every module the process resolves, written down by a loader hook registered before tsx's.
  async function modulesLoaded(extraEnv: Record<string, string>): Promise<string[]> {
    const dir = mkdtempSync(join(tmpdir(), "osm-tracing-off-"));
    const log = join(dir, "modules.txt");
    try {
      const port = await freePort();
      const child = spawn(
        process.execPath,
        [
          "--import",
          "./tooling/testing/module-log.mjs",
          "--import",
          "tsx",
          "apps/proxy/src/main.ts",
        ],
        {
          env: {
            ...process.env,
            ...proxyProcessEnv(stack.services, { port, metricsPort: 0, dataDir: dir }),
            LOG_LEVEL: "warn",
            OSM_MODULE_LOG: log,
            ...extraEnv,
          },
          stdio: ["ignore", "ignore", "inherit"],
        },
      );
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      const url = `http://127.0.0.1:${port}`;
      let up = false;
      for (let i = 0; i < 400 && !up && child.exitCode === null; i++) {
        up = await fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (!up) await new Promise((r) => setTimeout(r, 50));
      }
      expect(up).toBe(true);
      // The request path runs once, so whatever it would load is loaded.
      const t = await stack.tenant();
      const answer = await new OpenAI({
        baseURL: `${url}/v1`,
        apiKey: t.secret,
        maxRetries: 0,
      }).chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "hi" }],
      });
      expect(answer.choices).toHaveLength(1);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      return readFileSync(log, "utf8").split("\n").filter(Boolean);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("without OTEL_EXPORTER_OTLP_ENDPOINT no @opentelemetry/sdk-* module is loaded; with it, it is", async () => {
    const off = await modulesLoaded({});
    // The hook saw the process's modules at all (the proxy's own server among them).
    expect(off.some((url) => url.endsWith("/apps/proxy/src/server.ts"))).toBe(true);
    expect(off.filter((url) => url.includes("/@opentelemetry/"))).toEqual([]);

    const on = await modulesLoaded({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    expect(on.some((url) => url.includes("/@opentelemetry/sdk-trace-base/"))).toBe(true);
  });
});
