import type { AppRouter } from "@osm/api/router";
import { QueryClient } from "@tanstack/react-query";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import superjson from "superjson";

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      retry: (count, err) =>
        count < 2 && !(err instanceof TRPCClientError && err.data?.httpStatus < 500),
    },
  },
});

// Only the browser tests' build (mode "test") exposes the cache, so they can prove that no secret
// is ever kept in it; a production build drops this branch.
if (import.meta.env.MODE === "test") Object.assign(window, { __osmQueryClient: queryClient });

// Same origin in production (the API serves the build) and through Vite's proxy in development.
export const trpcClient = createTRPCClient<AppRouter>({
  links: [httpLink({ url: "/trpc", transformer: superjson })],
});

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

export function errorMessage(err: unknown): string {
  if (err instanceof TRPCClientError) {
    const fields = (err.data as { fields?: { path: string; message: string }[] | null } | undefined)
      ?.fields;
    if (fields?.length) return fields.map((f) => `${f.path}: ${f.message}`).join("; ");
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
