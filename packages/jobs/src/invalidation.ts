import { z } from "zod";

/**
 * Cache invalidation messages: published on Redis after a change commits, so every proxy drops
 * what it cached. `version` comes from one instance-wide sequence: a proxy ignores a cache fill
 * older than a version it has already seen for that id.
 */
export const invalidationKinds = ["key", "model", "provider", "membership", "project"] as const;
export type InvalidationKind = (typeof invalidationKinds)[number];

export const invalidationSchema = z.object({
  kind: z.enum(invalidationKinds),
  id: z.string().min(1),
  version: z.number().int().nonnegative(),
  /** For a key: "created" also clears negative-cached hashes. */
  event: z.enum(["created", "changed", "deleted"]).optional(),
});
export type Invalidation = z.infer<typeof invalidationSchema>;

export const invalidationChannel = (prefix: string) => `${prefix}invalidate`;
