-- AlterTable
ALTER TABLE "orders" ADD COLUMN "next_reconcile_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
ADD COLUMN "reconcile_attempts" INTEGER NOT NULL DEFAULT 0;

-- DropIndex
DROP INDEX "orders_status_payment_requested_at_idx";

-- CreateIndex
CREATE INDEX "orders_status_next_reconcile_at_idx" ON "orders"("status", "next_reconcile_at");
