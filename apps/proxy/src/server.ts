import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createDb } from "@osm/db/client";
import { bullPrefix, queueNames } from "@osm/jobs/queues";
import type { UsageEvent } from "@osm/jobs/usage-event";
import { createCryptoBox } from "@osm/keys/crypto-box";
import { newId } from "@osm/keys/ids";
import { answerThenDiscard } from "@osm/net/discard-upload";
import { type MetricsServer, serveMetrics } from "@osm/observability/metrics-server";
import { answerReadiness } from "@osm/observability/readiness";
import { startTracing } from "@osm/observability/tracing";
import { createRedis, pingEveryMaster } from "@osm/redis/connect";
import { Queue } from "bullmq";
import { pino } from "pino";
import { AdmissionControl, BudgetCounters } from "./admission/admission.ts";
import { AuthFailureThrottle } from "./auth-failure-throttle.ts";
import { authenticate } from "./authenticate.ts";
import { CatalogCache } from "./cache/catalog-cache.ts";
import { subscribeInvalidations } from "./cache/invalidation-subscriber.ts";
import { KeyCache } from "./cache/key-cache.ts";
import { SeenVersions } from "./cache/versions.ts";
import type { ProxyConfig } from "./config.ts";
import type { GatewayDeps } from "./deps.ts";
import { errorBody, GatewayError, sendError } from "./errors.ts";
import { clientAddressResolver } from "./http/client-address.ts";
import { readBody } from "./http/read-body.ts";
import { InflightRegistry, keyEndedError } from "./inflight.ts";
import { createProxyMetrics, observeParts } from "./metrics.ts";
import { createUpstreamAgent, type LookupFn } from "./providers/upstream-agent.ts";
import { RequestAbort } from "./request-abort.ts";
import { tagsHeader } from "./request-fields.ts";
import { RequestTrace } from "./request-trace.ts";
import { ResponseDirectory } from "./responses/directory.ts";
import { chatCompletions } from "./routes/chat-completions.ts";
import { embeddings } from "./routes/embeddings.ts";
import { listModels } from "./routes/models.ts";
import { createResponse, forwardResponseAction, type ResponseAction } from "./routes/responses.ts";
import { RequestRecord } from "./usage/request-record.ts";
import { SpillFile } from "./usage/spill-file.ts";
import { UsageEmitter } from "./usage/usage-emitter.ts";

export type RunningProxy = {
  server: Server;
  port: number;
  url: string;
  /** Prometheus `/metrics`, `/healthz` and `/readyz`, off the public port. */
  metricsPort: number;
  metricsUrl: string;
  deps: GatewayDeps;
  close(): Promise<void>;
};

const routes = {
  "/v1/chat/completions": "POST",
  "/v1/embeddings": "POST",
  "/v1/models": "GET",
  "/v1/responses": "POST",
} as const;

type GatewayPath = keyof typeof routes | { action: ResponseAction; id: string };

// `/v1/responses/{id}` (GET retrieves, DELETE deletes) and `/v1/responses/{id}/cancel` (POST).
function responsePath(path: string, method: string | undefined) {
  const match = /^\/v1\/responses\/([^/]+)(\/cancel)?$/.exec(path);
  if (!match) return null;
  const allow = match[2] ? "POST" : "GET, DELETE";
  const action: ResponseAction | null = match[2]
    ? method === "POST"
      ? "cancel"
      : null
    : method === "GET"
      ? "retrieve"
      : method === "DELETE"
        ? "delete"
        : null;
  return { id: match[1]!, allow, action };
}

function json(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(text),
    })
    .end(text);
}

// How much of an oversized body is read and thrown away so the client gets to read its 413
// before the connection closes; past this the socket is closed regardless.
const discardAfter413 = { bytes: 256 * 1024 * 1024, ms: 10_000, idleMs: 500 };

/** The 413 goes out at once; the rest of the upload is discarded before the socket closes. */
function answerTooLarge(
  req: IncomingMessage,
  res: ServerResponse,
  err: GatewayError,
  requestId: string,
) {
  if (res.headersSent) return void res.destroy();
  answerThenDiscard(
    req,
    res,
    {
      status: err.status,
      body: JSON.stringify(errorBody(err)),
      headers: { "x-request-id": requestId },
    },
    discardAfter413,
  );
}

export async function startProxy(
  config: ProxyConfig,
  overrides: { now?: () => Date; lookup?: LookupFn } = {},
): Promise<RunningProxy> {
  const log = pino({ level: config.logLevel, base: { app: "proxy" } });
  const { db, sql } = createDb({ url: config.databaseUrl, max: 10, applicationName: "osm-proxy" });
  const box = createCryptoBox(config.secret);
  const versions = new SeenVersions();
  const metrics = createProxyMetrics();
  const tracer = await startTracing({ endpoint: config.otlpEndpoint, serviceName: "osm-proxy" });
  const queueConnection = createRedis(config.redis, { maxRetriesPerRequest: null });
  const queue = new Queue(queueNames.usage, {
    connection: queueConnection,
    prefix: bullPrefix(config.redisPrefix),
  });
  const subscriber = createRedis(config.redis, { maxRetriesPerRequest: null });
  // The request path never waits on a Redis that is away: no offline queue, a hard timeout.
  const requestRedis = createRedis(config.redis, {
    offlineQueue: false,
    commandTimeoutMs: config.redisTimeoutMs,
    maxRetriesPerRequest: 0,
    reconnectDelayMs: (attempt) => Math.min(attempt * 100, 1000),
  });
  // ioredis reconnects by itself; an outage is reported through /readyz and the 503s it causes.
  for (const connection of [queueConnection, subscriber, requestRedis]) {
    connection.on("error", (err) => log.debug({ err: String(err) }, "redis connection error"));
  }
  // Serve once the request path and the usage queue can reach Redis (a cluster client takes a
  // few round trips to learn the slots); afterwards an outage answers 503 at once.
  await Promise.all(
    [requestRedis, queueConnection].map(
      (connection) =>
        new Promise<void>((resolve) => {
          if (connection.status === "ready") resolve();
          else connection.once("ready", () => resolve());
        }),
    ),
  );
  const now = overrides.now ?? (() => new Date());
  const spill = new SpillFile(config.dataDir);
  const admission = new AdmissionControl(
    {
      db,
      log,
      minOutputTokens: config.minOutputTokens,
      admissions: metrics.admissions,
      roundTrips: metrics.redisRoundTrips,
    },
    new BudgetCounters(requestRedis, config.redisPrefix),
  );
  const deps: GatewayDeps = {
    config,
    db,
    log,
    keys: new KeyCache(db, versions),
    catalogs: new CatalogCache(db, box, versions),
    versions,
    agent: createUpstreamAgent({
      allowPrivate: config.allowPrivateUpstreams,
      connectMs: config.upstreamConnectMs,
      firstByteMs: config.upstreamFirstByteMs,
      idleMs: config.upstreamIdleMs,
      lookup: overrides.lookup,
    }),
    usage: new UsageEmitter({
      redis: queueConnection,
      queue,
      spill,
      log,
      prefix: config.redisPrefix,
      enqueueTimeoutMs: config.redisTimeoutMs,
      groupWindowMs: config.usageGroupWindowMs,
      redisReady: () => queueConnection.status === "ready",
      onRoundTrip: () => metrics.redisRoundTrips.inc({ phase: "usage" }),
    }),
    inflight: new InflightRegistry(),
    responses: new ResponseDirectory(requestRedis, config.redisPrefix, log),
    admission,
    authFailures: new AuthFailureThrottle(),
    clientAddress: clientAddressResolver(config.trustedProxies),
    metrics,
    tracer,
    now,
  };

  observeParts(metrics, {
    caches: { key: deps.keys, catalog: deps.catalogs },
    usage: deps.usage,
    spillDepth: () => spill.depth(),
  });
  // Set once close() begins: /readyz turns 503 so a load balancer stops sending new requests.
  let draining = false;
  const readiness = {
    postgres: () => sql`select 1`,
    redis: () => pingEveryMaster(requestRedis),
    accepting: async () => {
      if (draining) throw new Error("draining");
    },
  };

  await subscribeInvalidations({
    subscriber,
    prefix: config.redisPrefix,
    versions,
    log,
    onInvalidation: (invalidation) => {
      metrics.seenVersion.set(versions.latest);
      deps.keys.apply(invalidation);
      void deps.catalogs
        .apply(invalidation)
        .catch((err) => log.warn({ err }, "catalog invalidation failed"));
      // A revoked or disabled key's in-flight requests end here too, not only on new admissions.
      if (invalidation.kind === "key" && deps.inflight.has(invalidation.id)) {
        void deps.keys.current(invalidation.id).then((state) => {
          const reason = state ? keyEndedError(state) : null;
          if (reason) deps.inflight.abortAll(invalidation.id, reason);
        });
      }
    },
    onResync: () => {
      deps.keys.clear();
      deps.catalogs.clear();
    },
  });

  // One line per request: ids and outcome only, never a secret or any content.
  const logRequest = (event: UsageEvent) =>
    log.info(
      {
        requestId: event.requestId,
        keyId: event.keyId,
        projectId: event.projectId,
        model: event.model,
        status: event.status,
        code: event.code,
        stream: event.stream,
        ms: event.latencyMs,
      },
      "request",
    );

  const handleGateway = async (req: IncomingMessage, res: ServerResponse, path: GatewayPath) => {
    const started = process.hrtime.bigint();
    const requestId = newId("request");
    const routeName = typeof path === "string" ? path : `/v1/responses/{id}:${path.action}`;
    const trace = tracer ? new RequestTrace(tracer, req, routeName, requestId) : null;
    let record: RequestRecord | null = null;
    const controller = new RequestAbort();
    let untrack = () => {};
    let completion: Promise<void> | null = null;
    let refusedCode = "";
    // Settlement and the usage event, once, before the response's last byte: a client that
    // sends its next request at once sees this one settled.
    const complete = () => {
      completion ??= (async () => {
        if (!record) return;
        const event = record.toEvent(process.hrtime.bigint());
        // The event rides along with the settlement where the script can reach the inbox; else
        // its append is sent now, beside the settlement: one round trip after the upstream.
        const carried =
          record.admission && event && deps.usage.inboxReachableFromScripts
            ? deps.usage.inbox(event)
            : undefined;
        const appended = event && !carried ? deps.usage.emit(event) : null;
        let settledWithEvent = false;
        if (record.admission) {
          // Charged in full all the same; counted so an operator sees a bound that did not hold.
          if (record.admission.trackSpend && record.cost > record.admission.reserved) {
            metrics.overReservation.inc();
          }
          const settled = await deps.admission.settle(
            record.admission,
            record.cost,
            record.inputTokens + record.outputTokens,
            carried,
          );
          settledWithEvent = settled && carried !== undefined;
        }
        if (event) {
          logRequest(event);
          if (appended) await appended;
          else if (settledWithEvent) deps.usage.recorded();
          else await deps.usage.emit(event);
        }
      })();
      return completion;
    };
    res.once("close", () => {
      if (!res.writableFinished)
        controller.abort(new GatewayError("request_timeout", "The client closed the connection."));
    });
    try {
      const key = await authenticate(deps, req);
      record = new RequestRecord(requestId, key, now(), started);
      record.tags = tagsHeader(req.headers["x-osm-tags"]);
      untrack = deps.inflight.track(key.id, controller);
      metrics.inflight.inc();
      const route = { deps, record, req, res, signal: controller.signal, trace, complete };
      if (path === "/v1/models") await listModels(deps, record, res);
      else if (typeof path === "object") await forwardResponseAction(route, path.action, path.id);
      else {
        const body = await readBody(req, config.maxBodyBytes);
        if (path === "/v1/chat/completions") await chatCompletions(route, body);
        else if (path === "/v1/responses") await createResponse(route, body);
        else await embeddings(route, body);
      }
    } catch (err) {
      const failure = err instanceof GatewayError ? err : null;
      if (!failure) log.error({ err, requestId }, "request failed");
      // Refused before a key was known: no ledger row, but a line to find the request id by.
      if (!record)
        log.info({ requestId, code: failure?.code ?? "upstream_error" }, "request refused");
      const gatewayError =
        failure ?? new GatewayError("upstream_error", "The gateway failed to serve this request.");
      record?.fail(gatewayError);
      refusedCode = gatewayError.code;
      await complete();
      if (gatewayError.code === "request_too_large") {
        answerTooLarge(req, res, gatewayError, requestId);
      } else if (!res.headersSent) {
        sendError(res, gatewayError, { "x-request-id": requestId });
      } else if (!res.writableEnded) {
        res.destroy();
      }
    } finally {
      untrack();
      await complete();
      const ended = process.hrtime.bigint();
      trace?.end(record, res.statusCode, refusedCode);
      metrics.requests.inc({
        route: routeName,
        status: String(res.statusCode),
        outcome: !record ? "unauthenticated" : record.code === null ? "allowed" : "error",
        code: record?.code ?? refusedCode,
      });
      if (record) {
        metrics.inflight.dec();
        const stream = String(record.stream);
        metrics.latency.observe({ route: routeName, stream }, Number(ended - started) / 1e9);
        if (record.upstreamSentAt !== null) {
          metrics.upstreamLatency.observe(
            { route: routeName, stream },
            Number(ended - record.upstreamSentAt) / 1e9,
          );
        }
      }
    }
  };

  const server = createServer({
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    // Node checks the two timeouts above only this often; the default 30 s lets a slow client linger.
    connectionsCheckingInterval: 250,
    maxHeaderSize: 64 * 1024,
    keepAliveTimeout: 65_000,
  });

  // Requests being served, so close() waits for their usage to be emitted, not only their sockets.
  const handlers = new Set<Promise<void>>();
  const track = (handling: Promise<void>) => {
    handlers.add(handling);
    void handling.finally(() => {
      handlers.delete(handling);
      if (draining) server.closeIdleConnections();
    });
  };
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (path === "/healthz") return json(res, 200, { status: "ok" });
    if (path === "/readyz") return void answerReadiness(res, readiness);
    // A keep-alive client of a draining proxy is told to reconnect (to another instance).
    if (draining) res.setHeader("Connection", "close");
    const stored = responsePath(path, req.method);
    if (stored) {
      if (!stored.action) {
        return sendError(
          res,
          new GatewayError(
            "method_not_allowed",
            `${path.slice(0, 200)} accepts ${stored.allow} only.`,
          ),
          { Allow: stored.allow, "x-request-id": newId("request") },
        );
      }
      track(handleGateway(req, res, { action: stored.action, id: stored.id }));
      return;
    }
    const method = routes[path as keyof typeof routes];
    if (!method)
      return sendError(
        res,
        new GatewayError("not_found", `Unknown route ${req.method} ${path.slice(0, 200)}.`),
        { "x-request-id": newId("request") },
      );
    if (req.method !== method) {
      return sendError(
        res,
        new GatewayError("method_not_allowed", `${path} accepts ${method} only.`),
        { Allow: method, "x-request-id": newId("request") },
      );
    }
    track(handleGateway(req, res, path as keyof typeof routes));
  });

  // Malformed requests, oversized headers and slow clients still get the contract's JSON.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const failure =
      err.code === "HPE_HEADER_OVERFLOW"
        ? new GatewayError("headers_too_large", "The request headers are too large.")
        : err.code === "ERR_HTTP_REQUEST_TIMEOUT" || err.code === "ERR_HTTP_HEADERS_TIMEOUT"
          ? new GatewayError("request_timeout", "The request took too long to arrive.")
          : new GatewayError("invalid_request", "The request is not valid HTTP.");
    const body = JSON.stringify(errorBody(failure));
    socket.end(
      `HTTP/1.1 ${failure.status} ${failure.code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${newId("request")}\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  await new Promise<void>((resolve) => server.listen(config.port, "0.0.0.0", resolve));
  let metricsServer: MetricsServer;
  try {
    metricsServer = await serveMetrics({
      registry: metrics.registry,
      port: config.metricsPort,
      log,
      readiness,
    });
  } catch (err) {
    server.close();
    throw err;
  }
  // Usage a previous process spilled (or left behind when it was killed) goes to the queue now.
  void deps.usage.replaySpilled();
  await deps.usage.start();
  const port = (server.address() as AddressInfo).port;
  log.info({ port, metricsPort: metricsServer.port }, "proxy listening");

  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    metricsPort: metricsServer.port,
    metricsUrl: `http://127.0.0.1:${metricsServer.port}`,
    deps,
    close() {
      closing ??= shutdown();
      return closing;
    },
  };

  /**
   * Stop accepting, let in-flight requests and streams finish for up to the grace period (then
   * cut them: their usage so far is still recorded), flush usage, then disconnect.
   */
  async function shutdown(): Promise<void> {
    draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const deadline = setTimeout(() => {
      log.warn({ inflight: handlers.size }, "shutdown grace over: cutting requests in flight");
      server.closeAllConnections();
    }, config.shutdownGraceMs);
    await closed;
    clearTimeout(deadline);
    await Promise.allSettled([...handlers]);
    await deps.usage.close();
    await queue.close();
    queueConnection.disconnect();
    subscriber.disconnect();
    requestRedis.disconnect();
    await deps.agent.close();
    await metricsServer.close();
    // The last batch of spans, including the requests just drained.
    await tracer?.shutdown();
    await sql.end({ timeout: 5 });
  }
}
