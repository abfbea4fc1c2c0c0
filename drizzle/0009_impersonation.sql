ALTER TABLE "sessions" ALTER COLUMN "refresh_token_hash" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_log" ADD COLUMN "impersonator_user_id" uuid;--> statement-breakpoint
ALTER TABLE "audit_log" ADD COLUMN "impersonation_id" uuid;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "impersonator_id" uuid;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "impersonation_reason" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "allow_write" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_impersonator_user_id_users_id_fk" FOREIGN KEY ("impersonator_user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_impersonator_id_users_id_fk" FOREIGN KEY ("impersonator_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "audit_log_support_access_key" ON "audit_log" USING btree ("impersonation_id","organization_id") WHERE action = 'support.access';--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_refresh_or_impersonation" CHECK ("sessions"."refresh_token_hash" is not null or ("sessions"."impersonator_id" is not null and "sessions"."impersonation_reason" is not null));