import type { AuditActor } from "@osm/db/queries/audit";
import type { Actor } from "./actor.ts";

export function auditActor(actor: Actor): AuditActor {
  switch (actor.type) {
    case "user":
      return { type: "user", id: actor.userId };
    case "token":
      return { type: "token", id: actor.tokenId };
    case "master":
      return { type: "master", id: null };
  }
}
