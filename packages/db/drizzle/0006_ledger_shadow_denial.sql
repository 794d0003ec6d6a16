ALTER TABLE "usage_ledger" ADD COLUMN "shadow_code" text;--> statement-breakpoint
ALTER TABLE "usage_ledger" ADD COLUMN "shadow_message" text;