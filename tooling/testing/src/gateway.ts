import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ApiConfig } from "@osm/api/config";
import { type FakeProvider, startFakeProvider } from "@osm/fake-provider";
import type { ProxyConfig } from "@osm/proxy/config";
import { type RunningProxy, startProxy } from "@osm/proxy/server";
import { redisEnvOf } from "@osm/redis/target";
import { startWorker } from "@osm/worker/worker";
import OpenAI from "openai";
import { type ApiClient, apiClient, startTestApi, testMasterKey, testSecret } from "./api.ts";
import { createTestServices, type TestServices } from "./context.ts";
import { testWorkerConfig } from "./worker.ts";

export function testProxyConfig(
  services: TestServices,
  overrides: Partial<ProxyConfig> = {},
): ProxyConfig {
  return {
    databaseUrl: services.databaseUrl,
    redis: services.redis,
    redisPrefix: services.redisPrefix,
    secret: testSecret,
    // Per test database: proxies of different test files must not replay each other's spill.
    dataDir: join(tmpdir(), `osm-test-data-${services.redisPrefix.replace(/\W/g, "")}`),
    allowPrivateUpstreams: true,
    maxBodyBytes: 16 * 1024 * 1024,
    upstreamConnectMs: 2_000,
    upstreamFirstByteMs: 5_000,
    upstreamIdleMs: 5_000,
    redisTimeoutMs: 250,
    minOutputTokens: 256,
    usageGroupWindowMs: 50,
    headersTimeoutMs: 2_000,
    requestTimeoutMs: 10_000,
    trustedProxies: [],
    port: 0,
    metricsPort: 0,
    shutdownGraceMs: 10_000,
    logLevel: "silent",
    ...overrides,
  };
}

/**
 * A fetch for the SDK that tees each response body, so a test can read the exact bytes the SDK
 * parsed (`last()` resolves once the body is complete).
 */
export function rawBodyCapture() {
  let last: Promise<string> = Promise.resolve("");
  const capture: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (!res.body) {
      last = Promise.resolve("");
      return res;
    }
    const [forSdk, forTest] = res.body.tee();
    last = new Response(forTest).text();
    return new Response(forSdk, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };
  return { fetch: capture, last: () => last };
}

/**
 * The environment a proxy process (`main.ts` under tsx, or the built bundle) needs to serve a
 * test stack's tenants: the stack's database and Redis prefix, a spill directory of its own.
 */
export function proxyProcessEnv(
  services: TestServices,
  ports: { port: number; metricsPort: number; dataDir: string },
): Record<string, string> {
  return {
    DATABASE_URL: services.databaseUrl,
    ...redisEnvOf(services.redis),
    OSM_REDIS_PREFIX: services.redisPrefix,
    OSM_SECRET: testSecret,
    OSM_DATA_DIR: ports.dataDir,
    OSM_ALLOW_PRIVATE_UPSTREAMS: "true",
    PROXY_PORT: String(ports.port),
    PROXY_METRICS_PORT: String(ports.metricsPort),
  };
}

export type GatewayStack = Awaited<ReturnType<typeof startGatewayStack>>;

/** Real API, proxy and fake provider on one test database and Redis prefix. */
export async function startGatewayStack(
  proxyOverrides: Partial<ProxyConfig> = {},
  apiOverrides: Partial<ApiConfig> = {},
) {
  const services = await createTestServices();
  const api = await startTestApi(services, apiOverrides);
  const fake: FakeProvider = await startFakeProvider();
  const proxies: RunningProxy[] = [await startProxy(testProxyConfig(services, proxyOverrides))];
  const master: ApiClient = apiClient(api.url, { bearer: testMasterKey });
  const worker = await startWorker(
    testWorkerConfig(services, {
      stalledIntervalMs: 1_000,
      lockDurationMs: 2_000,
      secret: testSecret,
      allowPrivateUpstreams: true,
      // Webhook retries after 0.2 s, 0.4 s, … so that a test sees a retried delivery land.
      alertRetryDelayMs: 200,
    }),
  );

  /** A fresh project with an OpenAI-kind and an Anthropic-kind provider on the fake, and a key. */
  async function tenant(
    key: Parameters<ApiClient["keys"]["create"]["mutate"]>[0] extends infer I
      ? Partial<Omit<I & object, "projectId">>
      : never = {},
  ) {
    const project = await master.projects.create.mutate({ name: "tenant" });
    await master.providers.create.mutate({
      projectId: project.id,
      id: "fake-openai",
      kind: "openai",
      baseUrl: fake.openaiBaseUrl,
      apiKey: "sk-upstream-secret-123",
    });
    await master.providers.create.mutate({
      projectId: project.id,
      id: "fake-anthropic",
      kind: "anthropic",
      baseUrl: fake.anthropicBaseUrl,
      apiKey: "sk-ant-upstream-secret-456",
    });
    await master.models.importDefaults.mutate({ projectId: project.id });
    const created = await master.keys.create.mutate({
      projectId: project.id,
      label: "test",
      ...key,
    });
    return { projectId: project.id, key: created.key, secret: created.secret };
  }

  /**
   * A tenant with a model priced so a request's worst case equals its actual cost: input free,
   * $1 per 1M output tokens, and the fake answers exactly max_tokens (16): 16,000 nano-USD.
   */
  async function budgetTenant(limitUsd: string, key: Parameters<typeof tenant>[0] = {}) {
    const t = await tenant({ spendLimitUsd: limitUsd, budgetPeriod: "monthly", ...key });
    const upstreamModel = `budget-model-${t.key.id}`;
    await master.models.create.mutate({
      projectId: t.projectId,
      id: "budget-model",
      providerId: "fake-openai",
      upstreamModel,
      inputUsdPer1M: "0",
      outputUsdPer1M: "1",
      tier: "paid",
    });
    return { ...t, model: "budget-model", upstreamModel };
  }

  function openai(
    secret: string,
    proxy = proxies[0]!,
    options: Pick<ConstructorParameters<typeof OpenAI>[0] & {}, "fetch"> = {},
  ) {
    return new OpenAI({
      baseURL: `${proxy.url}/v1`,
      apiKey: secret,
      maxRetries: 0,
      timeout: 20_000,
      ...options,
    });
  }

  return {
    services,
    api,
    fake,
    proxies,
    worker,
    master,
    tenant,
    budgetTenant,
    openai,
    async addProxy(overrides: Partial<ProxyConfig> = {}) {
      const proxy = await startProxy(
        testProxyConfig(services, { ...proxyOverrides, ...overrides }),
      );
      proxies.push(proxy);
      return proxy;
    },
    async close() {
      for (const p of proxies) await p.close();
      await worker.close();
      await fake.close();
      await api.close();
      await services.close();
    },
  };
}

/** One chat completion through the SDK, streamed and read to its end or not: its request id. */
export async function chatRequestId(client: OpenAI, stream: boolean): Promise<string> {
  const messages = [{ role: "user" as const, content: "hi" }];
  if (stream) {
    const { data, response } = await client.chat.completions
      .create({ model: "gpt-4o-mini", messages, stream: true })
      .withResponse();
    for await (const _ of data) {
      // read to the end
    }
    return response.headers.get("x-request-id")!;
  }
  const { response } = await client.chat.completions
    .create({ model: "gpt-4o-mini", messages })
    .withResponse();
  return response.headers.get("x-request-id")!;
}
