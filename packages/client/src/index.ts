import type { AppRouter } from "@osm/api/router";
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import superjson from "superjson";

export type { AppRouter };

export type OsmClientOptions = {
  /** The API's origin, e.g. http://localhost:3000 */
  url: string;
  /** OSM_MASTER_KEY or a management token (osmt_…). */
  token: string;
  fetch?: typeof fetch;
};

/** A typed management client for internal tools and scripts; every shape comes from AppRouter. */
export function createOsmClient(options: OsmClientOptions) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${options.url.replace(/\/$/, "")}/trpc`,
        transformer: superjson,
        headers: () => ({ authorization: `Bearer ${options.token}` }),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
    ],
  });
}

export type OsmClient = ReturnType<typeof createOsmClient>;
