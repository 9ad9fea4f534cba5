-- CreateEnum
CREATE TYPE "LedgerKind" AS ENUM ('TOP_UP', 'ORDER_DEBIT');

-- CreateEnum
CREATE TYPE "PaymentOutcome" AS ENUM ('SUCCEEDED', 'FAILED');

-- CreateEnum
CREATE TYPE "FailureReason" AS ENUM ('NO_ACCOUNT', 'INSUFFICIENT_FUNDS');

-- CreateTable
CREATE TABLE "accounts" (
    "user_id" UUID NOT NULL,
    "balance" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "accounts_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "ledger_entries" (
    "id" BIGSERIAL NOT NULL,
    "user_id" UUID NOT NULL,
    "kind" "LedgerKind" NOT NULL,
    "amount" BIGINT NOT NULL,
    "order_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_entries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "inbox" (
    "message_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),

    CONSTRAINT "inbox_pkey" PRIMARY KEY ("message_id")
);

-- CreateTable
CREATE TABLE "payment_decisions" (
    "order_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "amount" BIGINT NOT NULL,
    "outcome" "PaymentOutcome" NOT NULL,
    "reason" "FailureReason",
    "decided_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "payment_decisions_pkey" PRIMARY KEY ("order_id")
);

-- CreateTable
CREATE TABLE "outbox" (
    "id" UUID NOT NULL,
    "queue" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,

    CONSTRAINT "outbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "idempotency_keys" (
    "user_id" UUID NOT NULL,
    "key" VARCHAR(255) NOT NULL,
    "scope" TEXT NOT NULL,
    "request_hash" CHAR(64) NOT NULL,
    "response" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("user_id","scope","key")
);

-- CreateIndex
CREATE UNIQUE INDEX "ledger_entries_order_id_key" ON "ledger_entries"("order_id");

-- CreateIndex
CREATE INDEX "ledger_entries_user_id_idx" ON "ledger_entries"("user_id");

-- CreateIndex
CREATE INDEX "inbox_processed_at_received_at_idx" ON "inbox"("processed_at", "received_at");

-- CreateIndex
CREATE INDEX "outbox_sent_at_created_at_idx" ON "outbox"("sent_at", "created_at");

-- CreateIndex
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"("created_at");

-- AddForeignKey
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "accounts"("user_id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- ---------------------------------------------------------------------------------------------------
-- Database-level guarantees that schema.prisma cannot express. Written by hand; everything above is
-- what `prisma migrate dev` generates from the schema.
-- ---------------------------------------------------------------------------------------------------

-- No overdraft, even if a code path forgets to check: a debit that would go negative fails the transaction.
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_balance_check" CHECK ("balance" >= 0);

-- The ledger's sign and order link follow from its kind, so sum(amount) stays a meaningful balance and
-- "one debit per order" (the unique order_id) covers every debit.
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_kind_check" CHECK (
    ("kind" = 'TOP_UP' AND "amount" > 0 AND "order_id" IS NULL)
    OR ("kind" = 'ORDER_DEBIT' AND "amount" < 0 AND "order_id" IS NOT NULL)
);

-- A failed decision always says why, and a successful one never carries a reason.
ALTER TABLE "payment_decisions" ADD CONSTRAINT "payment_decisions_reason_check"
    CHECK (("outcome" = 'FAILED') = ("reason" IS NOT NULL));

-- The relay only ever scans unsent rows; a partial index keeps that scan small as sent rows pile up.
CREATE INDEX "outbox_unsent_created_at_idx" ON "outbox"("created_at") WHERE "sent_at" IS NULL;

-- Wake relays that LISTEN on gozon_outbox (payload: the queue name) instead of making them poll.
-- Statement-level: one notification per queue per INSERT statement, however many rows it wrote.
CREATE FUNCTION "outbox_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gozon_outbox', q.queue) FROM (SELECT DISTINCT queue FROM inserted) AS q;
    RETURN NULL;
END;
$$;

CREATE TRIGGER "outbox_notify" AFTER INSERT ON "outbox"
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION "outbox_notify"();
