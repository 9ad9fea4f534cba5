-- Every web instance reads the families revoked in the last few minutes (session-revocations.ts) at
-- start and every few seconds: a range scan here, not a scan of every token kept for the retention.
CREATE INDEX "refresh_tokens_revoked_at_idx" ON "refresh_tokens"("revoked_at");
