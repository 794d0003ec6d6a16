ALTER TABLE "usage_ledger" ADD COLUMN "end_user" text;--> statement-breakpoint
ALTER TABLE "usage_ledger" ADD COLUMN "tags" text[];