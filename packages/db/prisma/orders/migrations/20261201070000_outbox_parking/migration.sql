-- Parking: a row that keeps failing to publish while Redis answers (its own fault, not an outage) is set
-- aside instead of being retried at every pass. `failures` counts only those failures (`attempts`
-- counts every claim, outages included); the relay parks a row when it reaches its limit and, since a row
-- is never parked for good, gives each parked row one more try after a cool-down.
ALTER TABLE "outbox" ADD COLUMN "failures" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "outbox" ADD COLUMN "parked_at" TIMESTAMPTZ(3);

-- The relay claims unsent rows that are not parked: its partial index leaves parked rows out too.
DROP INDEX "outbox_unsent_created_at_idx";
CREATE INDEX "outbox_unsent_created_at_idx" ON "outbox"("created_at")
    WHERE "sent_at" IS NULL AND "parked_at" IS NULL;

-- Parked rows, latest first: the parked gauge, the admin's list and the relay's cool-down retry.
CREATE INDEX "outbox_parked_at_idx" ON "outbox"("parked_at" DESC) WHERE "parked_at" IS NOT NULL;
