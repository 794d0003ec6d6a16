import type { ApiConfig } from "@osm/api/config";
import type { AppRouter } from "@osm/api/router";
import { startApi } from "@osm/api/server";
import { createTRPCClient, httpLink } from "@trpc/client";
import superjson from "superjson";
import type { TestServices } from "./context.ts";

export const testSecret = "test-secret-0123456789-abcdefghijklmnop";
export const testMasterKey = "test-master-key-0123456789";

export function testApiConfig(
  services: TestServices,
  overrides: Partial<ApiConfig> = {},
): ApiConfig {
  return {
    databaseUrl: services.databaseUrl,
    redis: services.redis,
    redisPrefix: services.redisPrefix,
    secret: testSecret,
    masterKey: testMasterKey,
    allowPrivateUpstreams: true,
    dashboardOrigins: ["http://localhost:5173"],
    dataDir: "/tmp/osm-test-data",
    port: 0,
    metricsPort: 0,
    maxBodyBytes: 1024 * 1024,
    development: true,
    logLevel: "silent",
    ...overrides,
  };
}

export async function startTestApi(
  services: TestServices,
  overrides: Partial<ApiConfig> = {},
  now?: () => Date,
) {
  return startApi(testApiConfig(services, overrides), now ? { now } : {});
}

/** A tRPC client over real HTTP; `auth` is a bearer credential, or a cookie jar for sessions. */
export function apiClient(url: string, auth?: { bearer?: string; cookies?: Map<string, string> }) {
  const cookies = auth?.cookies;
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${url}/trpc`,
        transformer: superjson,
        headers: () => {
          const h: Record<string, string> = {};
          if (auth?.bearer) h.authorization = `Bearer ${auth.bearer}`;
          if (cookies?.size) h.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
          return h;
        },
        fetch: async (input, init) => {
          const res = await fetch(input, init);
          for (const c of res.headers.getSetCookie()) {
            const [pair] = c.split(";");
            const eq = pair!.indexOf("=");
            const name = pair!.slice(0, eq);
            const value = pair!.slice(eq + 1);
            if (!cookies) continue;
            if (value === "") cookies.delete(name);
            else cookies.set(name, value);
          }
          return res;
        },
      }),
    ],
  });
}
export type ApiClient = ReturnType<typeof apiClient>;
