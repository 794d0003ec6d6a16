CREATE TABLE "window_resets" (
	"key_id" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "window_resets_key_id_window_start_pk" PRIMARY KEY("key_id","window_start")
);
