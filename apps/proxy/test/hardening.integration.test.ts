// The proxy facing hostile or broken clients: fuzzed bodies, oversized and slow requests,
// header injection and request-smuggling shapes on raw sockets, and what it writes to its logs.
// Every case ends with the proxy still serving a normal request.

import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateSecret } from "@osm/keys/secrets";
import type { RunningProxy } from "@osm/proxy/server";
import { redisEnvOf } from "@osm/redis/target";
import { apiClient, testSecret } from "@osm/testing/api";
import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const contractCodes: Record<string, number> = {
  invalid_api_key: 401,
  key_expired: 401,
  key_inactive: 403,
  model_not_allowed: 403,
  provider_blocked: 403,
  tier_not_allowed: 403,
  price_limit_exceeded: 403,
  spending_limit_reached: 403,
  max_tokens_exceeded: 400,
  rate_limit_exceeded: 429,
  model_not_found: 404,
  invalid_request: 400,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  request_too_large: 413,
  headers_too_large: 431,
  upstream_invalid_request: 400, // or the provider's own 4xx
  upstream_rate_limited: 429,
  upstream_error: 502,
  upstream_auth_failed: 502,
  upstream_timeout: 504,
  service_unavailable: 503,
};

// What the proxy answers when a handler throws something that is not a GatewayError: a crash
// dressed as a 502. Fuzzing must never reach it.
const internalFailure = "The gateway failed to serve this request.";

let stack: GatewayStack;
let secret: string;
let projectId: string;

beforeAll(async () => {
  stack = await startGatewayStack();
  ({ secret, projectId } = await stack.tenant());
});
afterAll(() => stack.close());

type Reply = { status: number; headers: Record<string, string>; body: string; ms: number };

async function post(
  body: string | Uint8Array,
  options: { proxy?: RunningProxy; path?: string } = {},
): Promise<Reply> {
  const started = performance.now();
  const res = await fetch(
    `${(options.proxy ?? stack.proxies[0]!).url}${options.path ?? "/v1/chat/completions"}`,
    {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body,
      // A hang fails the property instead of the whole file timing out.
      signal: AbortSignal.timeout(10_000),
    },
  );
  return {
    status: res.status,
    headers: Object.fromEntries(res.headers.entries()),
    body: await res.text(),
    ms: performance.now() - started,
  };
}

/** A 200 (JSON or SSE) or a contract error; never an internal failure. */
function expectSane(reply: Reply) {
  const type = reply.headers["content-type"] ?? "";
  if (reply.status === 200) {
    expect(type).toMatch(/^(application\/json|text\/event-stream)\b/);
    if (type.startsWith("application/json")) expect(() => JSON.parse(reply.body)).not.toThrow();
    return;
  }
  expect(type, reply.body).toMatch(/^application\/json\b/);
  const body = JSON.parse(reply.body) as {
    error: { code: string; message: string; type: string };
    status: number;
    message: string;
  };
  expect(Object.keys(contractCodes)).toContain(body.error.code);
  if (body.error.code !== "upstream_invalid_request")
    expect(reply.status).toBe(contractCodes[body.error.code]);
  else expect(reply.status).toBeGreaterThanOrEqual(400);
  expect(body.status).toBe(reply.status);
  expect(body.message).toBe(body.error.message);
  expect(body.error.message).not.toBe(internalFailure);
  expect(reply.headers["x-request-id"]).toMatch(/^req_/);
}

async function expectStillServing(proxy: RunningProxy = stack.proxies[0]!) {
  const answer = await stack.openai(secret, proxy).chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "still there?" }],
  });
  expect(answer.choices[0]!.message.content).toBeTruthy();
}

/**
 * Writes `payload` on a raw socket (optionally one byte per `byteDelayMs`) and collects every
 * byte the server sends until it closes the connection.
 */
function rawExchange(
  port: number,
  payload: string | Buffer,
  options: { byteDelayMs?: number; deadlineMs?: number } = {},
): Promise<{ text: string; ms: number; bytesSent: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, "127.0.0.1");
    const received: Buffer[] = [];
    let bytesSent = 0;
    let drip: NodeJS.Timeout | null = null;
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close the connection within ${options.deadlineMs}`));
    }, options.deadlineMs ?? 10_000);
    socket.on("data", (d) => received.push(d));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(deadline);
      if (drip) clearInterval(drip);
      resolve({
        text: Buffer.concat(received).toString("utf8"),
        ms: performance.now() - started,
        bytesSent,
      });
    });
    socket.on("connect", () => {
      const bytes = Buffer.from(payload);
      if (!options.byteDelayMs) {
        socket.write(bytes);
        bytesSent = bytes.length;
        return;
      }
      drip = setInterval(() => {
        if (bytesSent >= bytes.length || !socket.writable) return;
        socket.write(bytes.subarray(bytesSent, bytesSent + 1));
        bytesSent++;
      }, options.byteDelayMs);
    });
  });
}

/** The HTTP responses in a raw byte stream (status and JSON body of each). */
function responses(text: string): { status: number; headers: string; body: string }[] {
  const out: { status: number; headers: string; body: string }[] = [];
  let rest = text;
  while (rest.startsWith("HTTP/1.1 ")) {
    const split = rest.indexOf("\r\n\r\n");
    const headers = rest.slice(0, split);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(headers)?.[1] ?? "0");
    out.push({
      status: Number(headers.slice(9, 12)),
      headers,
      body: rest.slice(split + 4, split + 4 + length),
    });
    rest = rest.slice(split + 4 + length);
  }
  expect(rest, "bytes after the last response").toBe("");
  return out;
}

function expectRawError(
  response: { status: number; headers: string; body: string },
  code: string,
  status: number,
) {
  expect(response.status).toBe(status);
  expect(response.headers).toMatch(/\r\ncontent-type: application\/json/i);
  const body = JSON.parse(response.body) as { error: { code: string; message: string } };
  expect(body).toMatchObject({ error: { code }, status, message: body.error.message });
}

describe("fuzzed bodies on POST /v1/chat/completions with a valid key", () => {
  it("arbitrary JSON values: always a contract error or a 200", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        expectSane(await post(JSON.stringify(value)));
      }),
      { numRuns: 200 },
    );
  });

  it("arbitrary byte strings: always a contract error or a 200", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => {
        expectSane(await post(bytes));
      }),
      { numRuns: 200 },
    );
  });

  it("chat-shaped bodies with arbitrary field values, routed to both provider kinds", async () => {
    const anything = fc.jsonValue({ maxDepth: 3 });
    // Mostly well-typed, sometimes anything: enough valid bodies reach the provider adapters.
    const usually = <T>(valid: fc.Arbitrary<T>) =>
      fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: anything, weight: 1 });
    const part = fc.record(
      {
        type: usually(fc.constantFrom("text", "image_url", "input_audio", "file")),
        text: usually(fc.string()),
        image_url: usually(fc.record({ url: fc.string() })),
      },
      { requiredKeys: ["type"] },
    );
    const message = usually(
      fc.record(
        {
          role: usually(fc.constantFrom("user", "system", "assistant", "tool", "developer")),
          content: usually(
            fc.oneof(fc.string(), fc.constant(null), fc.array(part, { maxLength: 3 })),
          ),
          tool_calls: anything,
          tool_call_id: usually(fc.string()),
          name: usually(fc.string()),
        },
        { requiredKeys: ["role", "content"] },
      ),
    );
    const body = fc.record(
      {
        model: usually(
          fc.constantFrom(
            "gpt-4o-mini",
            "o4-mini",
            "claude-3-5-haiku-20241022",
            "text-embedding-3-small",
            "no-such-model",
            "",
          ),
        ),
        messages: usually(fc.array(message, { minLength: 1, maxLength: 4 })),
        stream: usually(fc.boolean()),
        stream_options: usually(fc.record({ include_usage: usually(fc.boolean()) })),
        max_tokens: usually(fc.integer({ min: -1, max: 200_000 })),
        max_completion_tokens: usually(fc.integer({ min: -1, max: 200_000 })),
        n: usually(fc.integer({ min: 0, max: 3 })),
        tools: anything,
        tool_choice: anything,
        temperature: usually(fc.double({ min: 0, max: 2, noNaN: true })),
        stop: usually(fc.array(fc.string(), { maxLength: 2 })),
      },
      { requiredKeys: ["model", "messages"] },
    );
    const before = stack.fake.countFor();
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        expectSane(await post(JSON.stringify(value)));
      }),
      { numRuns: 200 },
    );
    // Some of them really went upstream: the property did not only exercise validation.
    const forwarded = stack.fake.countFor() - before;
    console.info(`chat-shaped fuzz: ${forwarded} of 200 bodies reached the provider`);
    expect(forwarded).toBeGreaterThan(10);
  });

  it("keeps serving normal requests afterwards", async () => {
    await expectStillServing();
  });
});

describe("oversized and slow requests", () => {
  /**
   * Uploads `total` bytes on a raw socket (declared Content-Length or chunked), reading while
   * writing and ignoring write errors, like a patient client; resolves when the server closes.
   */
  function rawUpload(
    port: number,
    total: number,
    framing: "declared" | "chunked",
  ): Promise<{ text: string; sent: number; ms: number }> {
    const chunk = Buffer.alloc(64 * 1024, "a"); // one buffer, reused: the client allocates nothing
    const frame =
      framing === "declared"
        ? chunk
        : Buffer.concat([
            Buffer.from(`${chunk.length.toString(16)}\r\n`),
            chunk,
            Buffer.from("\r\n"),
          ]);
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const socket = connect(port, "127.0.0.1");
      const received: Buffer[] = [];
      let sent = 0;
      let open = true;
      const deadline = setTimeout(() => {
        socket.destroy();
        reject(new Error(`${framing}: no close within 20 s`));
      }, 20_000);
      socket.on("data", (d) => received.push(d));
      socket.on("error", () => {});
      socket.on("close", () => {
        open = false;
        clearTimeout(deadline);
        resolve({
          text: Buffer.concat(received).toString("utf8"),
          sent,
          ms: performance.now() - started,
        });
      });
      const pump = () => {
        while (open && sent < total) {
          sent += chunk.length;
          if (!socket.write(frame)) return void socket.once("drain", pump);
        }
        if (open && framing === "chunked") socket.write("0\r\n\r\n");
      };
      socket.on("connect", () => {
        socket.write(
          `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\n` +
            "Content-Type: application/json\r\n" +
            (framing === "declared"
              ? `Content-Length: ${total}\r\n\r\n`
              : "Transfer-Encoding: chunked\r\n\r\n"),
        );
        pump();
      });
    });
  }

  it("refuses a 40 MB body with the default 16 MiB limit: 413, never buffered, proxy keeps serving", async () => {
    const proxy = stack.proxies[0]!;
    expect(proxy.deps.config.maxBodyBytes).toBe(16 * 1024 * 1024);
    const total = 40 * 1024 * 1024;
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    let declared: Awaited<ReturnType<typeof rawUpload>>;
    let chunked: Awaited<ReturnType<typeof rawUpload>>;
    try {
      declared = await rawUpload(proxy.port, total, "declared");
      chunked = await rawUpload(proxy.port, total, "chunked");
    } finally {
      clearInterval(sampler);
    }
    const delta = peak - before;
    console.info(
      `40 MB uploads: declared sent ${(declared.sent / 2 ** 20).toFixed(1)} MiB in ${declared.ms.toFixed(0)} ms, ` +
        `chunked sent ${(chunked.sent / 2 ** 20).toFixed(1)} MiB in ${chunked.ms.toFixed(0)} ms; ` +
        `peak rss delta ${(delta / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(delta).toBeLessThan(100 * 1024 * 1024);

    // A declared length over the limit is answered before any body is read.
    const [answer, ...more] = responses(declared.text);
    expect(more).toEqual([]);
    expectRawError(answer!, "request_too_large", 413);
    expect(answer!.headers).toMatch(/\r\nconnection: close/i);
    // Chunked: refused once 16 MiB were counted, and the upload cut short.
    // The socket stays open while the rest is discarded, so the 413 is read, not lost to a reset.
    const chunkedAnswers = responses(chunked.text);
    expect(chunkedAnswers).toHaveLength(1);
    expectRawError(chunkedAnswers[0]!, "request_too_large", 413);

    // The client the OpenAI SDK uses, with the whole body in one write, reads the JSON 413.
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: Buffer.alloc(total, "a"),
      signal: AbortSignal.timeout(20_000),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get("connection")).toBe("close");
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      "request_too_large",
    );

    await expectStillServing(proxy);
  });

  it("answers headers sent one byte per 200 ms with a JSON 408 within 2x headersTimeout", async () => {
    const proxy = await stack.addProxy({ headersTimeoutMs: 1_000 });
    const request = `GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\n\r\n`;
    const { text, ms, bytesSent } = await rawExchange(proxy.port, request, { byteDelayMs: 200 });
    const [only, ...more] = responses(text);
    expect(more).toEqual([]);
    expectRawError(only!, "request_timeout", 408);
    expect(bytesSent).toBeLessThan(request.length); // cut off, not served after a long wait
    expect(ms).toBeLessThan(2_000);
    console.info(`slow headers: 408 after ${ms.toFixed(0)} ms (headersTimeout 1000 ms)`);
    await expectStillServing(proxy);
  });
});

describe("header injection and request smuggling on raw sockets", () => {
  const head = (extra: string, auth = `Bearer ${secret}`) =>
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\n` +
    `Content-Type: application/json\r\n${extra}`;
  const chatBody = (marker: string) =>
    JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: marker }] });
  /** A complete, valid request that must never reach the provider when smuggled. */
  const smuggled = (marker: string) => {
    const body = chatBody(marker);
    return `${head(`Content-Length: ${Buffer.byteLength(body)}\r\n`)}\r\n${body}`;
  };
  const reachedUpstream = (marker: string) =>
    stack.fake.requests.filter((r) => JSON.stringify(r.body ?? "").includes(marker)).length;
  const markers: string[] = [];

  it("refuses CR or LF inside header values (Authorization included) with a 400 JSON error", async () => {
    const port = stack.proxies[0]!.port;
    const shapes = [
      `GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\rX-Injected: 1\r\n\r\n`,
      `GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\nX-Injected: 1\r\n\r\n`,
      `GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\nX-Note: a\rb\r\n\r\n`,
      `GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\nX-Note: a\u0000b\r\n\r\n`,
      `GET /v1/mo\rdels HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\n\r\n`,
      `${head("Content-Length: 2\r\n", `Bearer ${secret}\rContent-Length: 0`)}\r\n{}`,
    ];
    for (const shape of shapes) {
      const [only, ...more] = responses((await rawExchange(port, shape)).text);
      expect(more, JSON.stringify(shape)).toEqual([]);
      expectRawError(only!, "invalid_request", 400);
    }
    await expectStillServing();
  });

  it("refuses ambiguous framing with a 400 JSON error and never forwards the smuggled request", async () => {
    const port = stack.proxies[0]!.port;
    const shapes: [string, (marker: string) => string][] = [
      [
        "Content-Length and Transfer-Encoding",
        (m) =>
          `${head(`Content-Length: 4\r\nTransfer-Encoding: chunked\r\n`)}\r\n0\r\n\r\n${smuggled(m)}`,
      ],
      [
        "two different Content-Lengths",
        (m) => {
          const body = chatBody(`${m}-outer`);
          return `${head(`Content-Length: ${body.length}\r\nContent-Length: 0\r\n`)}\r\n${body}${smuggled(m)}`;
        },
      ],
      [
        "Transfer-Encoding: chunked, identity",
        (m) => `${head("Transfer-Encoding: chunked, identity\r\n")}\r\n0\r\n\r\n${smuggled(m)}`,
      ],
      [
        "Transfer-Encoding: identity",
        (m) => `${head("Transfer-Encoding: identity\r\n")}\r\n${smuggled(m)}`,
      ],
      [
        "obs-fold on Transfer-Encoding",
        (m) =>
          `${head("Content-Length: 5\r\nTransfer-Encoding: identity\r\n chunked\r\n")}\r\n0\r\n\r\n${smuggled(m)}`,
      ],
      [
        "obs-fold on another header",
        (m) => `${head("X-Folded: a\r\n b\r\nContent-Length: 0\r\n")}\r\n${smuggled(m)}`,
      ],
      [
        "Transfer-Encoding with a space before the colon",
        (m) => `${head("Transfer-Encoding : chunked\r\n")}\r\n0\r\n\r\n${smuggled(m)}`,
      ],
      [
        "a Content-Length that is not a number, then a pipelined request",
        (m) => `${head("Content-Length: 1x\r\n")}\r\n{}${smuggled(m)}`,
      ],
    ];
    for (const [name, build] of shapes) {
      const marker = `smuggled-${markers.length}-${Math.random().toString(36).slice(2)}`;
      markers.push(marker);
      const { text } = await rawExchange(port, build(marker));
      const [only, ...more] = responses(text);
      expect(more, name).toEqual([]);
      expectRawError(only!, "invalid_request", 400);
    }
    // The proxy has served a request after all of them, so anything smuggled would have landed.
    await expectStillServing();
    for (const marker of markers) expect(reachedUpstream(marker), marker).toBe(0);
  });

  it("a request inside a body stays a body; a pipelined request is answered in order", async () => {
    const port = stack.proxies[0]!.port;
    const inner = `smuggled-inner-${Math.random().toString(36).slice(2)}`;
    const bodyWithRequest = smuggled(inner);
    const first = `${head(`Content-Length: ${Buffer.byteLength(bodyWithRequest)}\r\n`)}\r\n${bodyWithRequest}`;
    const ok = `pipelined-${Math.random().toString(36).slice(2)}`;
    const last = smuggled(ok).replace("Content-Type", "Connection: close\r\nContent-Type");
    const [a, b, ...more] = responses((await rawExchange(port, first + last)).text);
    expect(more).toEqual([]);
    expectRawError(a!, "invalid_request", 400); // the body is not JSON
    expect(b!.status).toBe(200);
    expect(reachedUpstream(inner)).toBe(0);
    expect(reachedUpstream(ok)).toBe(1);
  });

  it("still answers a normal SDK request after all of the above", async () => {
    await expectStillServing();
  });
});

describe("logs at the production level", () => {
  let child: ChildProcess | null = null;
  let dataDir: string | null = null;
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function freePort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    await new Promise((r) => server.close(r));
    return port;
  }

  it("contain every request id and no key, provider credential or session token", async () => {
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const port = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), "osm-proxy-logs-"));
    let output = "";
    const proc = spawn(process.execPath, ["--import", "tsx", "apps/proxy/src/main.ts"], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: stack.services.databaseUrl,
        ...redisEnvOf(stack.services.redis),
        OSM_REDIS_PREFIX: stack.services.redisPrefix,
        OSM_SECRET: testSecret,
        OSM_DATA_DIR: dataDir,
        PROXY_PORT: String(port),
        PROXY_METRICS_PORT: "0",
        LOG_LEVEL: "info",
        OSM_ALLOW_PRIVATE_UPSTREAMS: "true",
        NODE_ENV: "production",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    proc.stdout!.on("data", (d) => {
      output += d;
    });
    proc.stderr!.on("data", (d) => {
      output += d;
    });
    const waitFor = async (predicate: () => boolean, what: string, ms = 20_000) => {
      const deadline = performance.now() + ms;
      while (!predicate()) {
        if (proc.exitCode !== null) throw new Error(`proxy exited: ${output}`);
        if (performance.now() > deadline) throw new Error(`no ${what} in: ${output}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitFor(() => output.includes("proxy listening"), "listening line");
    const base = `http://127.0.0.1:${port}`;

    // A session cookie from the API, presented to the proxy as browsers would.
    const cookies = new Map<string, string>();
    await apiClient(stack.api.url, { cookies }).auth.signup.mutate({
      email: "owner@example.com",
      password: "correct horse battery staple",
      setupToken: createHmac("sha256", testSecret)
        .update("osm-setup-token")
        .digest("base64url")
        .slice(0, 32),
    });
    expect(cookies.size).toBeGreaterThan(0);
    const cookieHeader = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");

    const blocked = await stack.master.keys.create.mutate({
      projectId,
      label: "blocked",
      policy: { models: { block: ["gpt-4o"] } },
    });
    const wrongKey = `${secret.slice(0, -3)}${secret.endsWith("abc") ? "xyz" : "abc"}`;
    const unknownKey = generateSecret("apiKey");

    const authenticated: string[] = [];
    const unauthenticated: string[] = [];
    const call = async (
      key: string,
      body: unknown,
      extra: Record<string, string> = {},
    ): Promise<Reply> => {
      const started = performance.now();
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
          cookie: cookieHeader,
          ...extra,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(20_000),
      });
      return {
        status: res.status,
        headers: Object.fromEntries(res.headers.entries()),
        body: await res.text(),
        ms: performance.now() - started,
      };
    };
    const hi = (model: string) => ({ model, messages: [{ role: "user", content: "hi" }] });

    const ok = await call(secret, hi("gpt-4o-mini"), { "x-api-key": secret });
    expect(ok.status).toBe(200);
    authenticated.push(ok.headers["x-request-id"]!);

    const denied = await call(blocked.secret, hi("gpt-4o"));
    expect(denied.status).toBe(403);
    authenticated.push(denied.headers["x-request-id"]!);

    // A key pasted into `model` is masked before it reaches the log or the ledger.
    const notFound = await call(secret, hi(`missing-${secret}`));
    expect(notFound.status).toBe(404);
    authenticated.push(notFound.headers["x-request-id"]!);

    stack.fake.scriptNext({
      status: 400,
      errorMessage: "Incorrect API key provided: sk-upstream-secret-123.",
    });
    const echoed = await call(secret, hi("gpt-4o-mini"));
    expect(echoed.status).toBe(400);
    expect(echoed.body).not.toContain("sk-upstream-secret-123");
    authenticated.push(echoed.headers["x-request-id"]!);

    stack.fake.scriptNext({ status: 500, errorMessage: "broken sk-upstream-secret-123" });
    const failed = await call(secret, hi("gpt-4o-mini"));
    expect(failed.status).toBe(502);
    authenticated.push(failed.headers["x-request-id"]!);

    stack.fake.scriptNext({
      status: 401,
      errorMessage: "invalid x-api-key sk-ant-upstream-secret-456",
    });
    const anthropic = await call(secret, hi("claude-3-5-haiku-20241022"));
    expect(anthropic.status).toBe(502);
    authenticated.push(anthropic.headers["x-request-id"]!);

    stack.fake.scriptNext({ reset: "mid-stream", outputTokens: 40 });
    const broken = await call(secret, { ...hi("gpt-4o-mini"), stream: true });
    expect(broken.status).toBe(200);
    expect(broken.body).toContain('"code":"upstream_error"');
    authenticated.push(broken.headers["x-request-id"]!);

    for (const key of [wrongKey, unknownKey]) {
      const refused = await call(key, hi("gpt-4o-mini"));
      expect(refused.status).toBe(401);
      unauthenticated.push(refused.headers["x-request-id"]!);
    }

    // A client that sends its key and half a body, then disconnects: the error path logs.
    await new Promise<void>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.write(
          `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\n` +
            `Cookie: ${cookieHeader}\r\nContent-Length: 100\r\n\r\n{"model":"gpt-4o-mini"`,
          () => setTimeout(() => socket.destroy(), 50),
        );
      });
      socket.on("error", () => {});
      socket.on("close", () => resolve());
    });

    await waitFor(
      () => authenticated.every((id) => output.includes(id)),
      `request ids ${authenticated.join(", ")}`,
      10_000,
    );
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);

    console.info(`child proxy log: ${output.split("\n").filter(Boolean).length} lines\n${output}`);
    for (const id of authenticated) expect(output).toContain(id);
    for (const id of unauthenticated) expect(output).toContain(id);

    console.log(
      output
        .split("\n")
        .filter((l) => l.includes("osm_"))
        .join("\n"),
    );
    for (const forbidden of [
      secret,
      blocked.secret,
      wrongKey,
      unknownKey,
      "sk-upstream-secret-123",
      "sk-ant-upstream-secret-456",
      testSecret,
      ...cookies.values(),
    ]) {
      expect(output.includes(forbidden), `log leaks ${forbidden.slice(0, 8)}…`).toBe(false);
    }
    expect(output.match(/osm_[A-Za-z0-9]{8,}/g) ?? []).toEqual([]);
    expect(output).not.toMatch(/sk-(ant-)?upstream/);
    // Structured: every line is one JSON object.
    for (const line of output.split("\n").filter(Boolean))
      expect(() => JSON.parse(line)).not.toThrow();
  });
});
