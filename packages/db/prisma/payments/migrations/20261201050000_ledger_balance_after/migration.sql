-- AlterTable
ALTER TABLE "ledger_entries" ADD COLUMN "balance_after" BIGINT;

-- DropIndex
DROP INDEX "ledger_entries_user_id_idx";

-- CreateIndex
CREATE INDEX "ledger_entries_user_id_id_idx" ON "ledger_entries"("user_id", "id" DESC);

-- CreateIndex
CREATE INDEX "payment_decisions_decided_at_order_id_idx" ON "payment_decisions"("decided_at" DESC, "order_id" DESC);

-- CreateIndex
CREATE INDEX "payment_decisions_user_id_decided_at_order_id_idx" ON "payment_decisions"("user_id", "decided_at" DESC, "order_id" DESC);

-- CreateIndex
CREATE INDEX "payment_decisions_outcome_decided_at_order_id_idx" ON "payment_decisions"("outcome", "decided_at" DESC, "order_id" DESC);

-- ---------------------------------------------------------------------------------------------------
-- Written by hand; everything above is what `prisma migrate dev` generates from the schema (with the
-- column nullable, so that existing rows can be backfilled before NOT NULL is set).
-- ---------------------------------------------------------------------------------------------------

-- Existing entries get the balance right after them: the running sum of their account's entries in id
-- order, which is the order in which the account's balance changed (each change locks the account row
-- before it inserts its entry).
UPDATE "ledger_entries" AS e
SET "balance_after" = r."running"
FROM (
    SELECT "id", sum("amount") OVER (PARTITION BY "user_id" ORDER BY "id") AS "running"
    FROM "ledger_entries"
) AS r
WHERE e."id" = r."id";

ALTER TABLE "ledger_entries" ALTER COLUMN "balance_after" SET NOT NULL;

-- A balance is never negative, so neither is the balance after any entry.
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_balance_after_check" CHECK ("balance_after" >= 0);
