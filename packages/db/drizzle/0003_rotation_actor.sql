ALTER TABLE "key_rotations" ADD COLUMN "actor_type" text;--> statement-breakpoint
ALTER TABLE "key_rotations" ADD COLUMN "actor_id" text;