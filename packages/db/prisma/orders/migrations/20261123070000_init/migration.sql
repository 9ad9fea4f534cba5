-- CreateEnum
CREATE TYPE "OrderStatus" AS ENUM ('NEW', 'FINISHED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "CancelReason" AS ENUM ('NO_ACCOUNT', 'INSUFFICIENT_FUNDS');

-- CreateTable
CREATE TABLE "orders" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "amount" BIGINT NOT NULL,
    "description" TEXT NOT NULL,
    "status" "OrderStatus" NOT NULL DEFAULT 'NEW',
    "cancel_reason" "CancelReason",
    "payment_requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "orders_pkey" PRIMARY KEY ("id")
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
CREATE INDEX "orders_user_id_created_at_id_idx" ON "orders"("user_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "orders_status_payment_requested_at_idx" ON "orders"("status", "payment_requested_at");

-- CreateIndex
CREATE INDEX "outbox_sent_at_created_at_idx" ON "outbox"("sent_at", "created_at");

-- CreateIndex
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"("created_at");

-- ---------------------------------------------------------------------------------------------------
-- Database-level guarantees that schema.prisma cannot express. Written by hand; everything above is
-- what `prisma migrate dev` generates from the schema.
-- ---------------------------------------------------------------------------------------------------

-- Amounts are minor units; the API validates the same range, the database is the last line of defence.
ALTER TABLE "orders" ADD CONSTRAINT "orders_amount_check" CHECK ("amount" BETWEEN 1 AND 1000000000);

-- A description is stored trimmed-non-empty and bounded, whichever writer inserted it.
ALTER TABLE "orders" ADD CONSTRAINT "orders_description_check"
    CHECK (char_length(btrim("description")) BETWEEN 1 AND 500);

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
