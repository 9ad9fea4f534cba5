-- CreateTable
CREATE TABLE "order_changes" (
    "id" BIGSERIAL NOT NULL,
    "position" BIGINT,
    "order_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "status" "OrderStatus" NOT NULL,
    "cancel_reason" "CancelReason",
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "order_changes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "order_changes_position_key" ON "order_changes"("position");

-- CreateIndex
CREATE INDEX "order_changes_user_id_position_idx" ON "order_changes"("user_id", "position");

-- CreateIndex
CREATE INDEX "order_changes_order_id_id_idx" ON "order_changes"("order_id", "id");

-- ---------------------------------------------------------------------------------------------------
-- Written by hand; everything above is what `prisma migrate dev` generates from the schema.
-- ---------------------------------------------------------------------------------------------------

-- The position assigner only ever scans rows still waiting for a position.
CREATE INDEX "order_changes_unpositioned_idx" ON "order_changes"("id") WHERE "position" IS NULL;

-- A change has a reason exactly when it cancels the order.
ALTER TABLE "order_changes" ADD CONSTRAINT "order_changes_reason_check"
    CHECK (("status" = 'CANCELLED') = ("cancel_reason" IS NOT NULL));

-- Wake the position assigner (LISTEN gozon_order_changes) instead of making it poll; one notification
-- per INSERT statement, however many rows it wrote.
CREATE FUNCTION "order_changes_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gozon_order_changes', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER "order_changes_notify" AFTER INSERT ON "order_changes"
    FOR EACH STATEMENT EXECUTE FUNCTION "order_changes_notify"();

-- Every existing order gets its history: created, then settled (when it was).
INSERT INTO "order_changes" ("order_id", "user_id", "status", "cancel_reason", "at")
SELECT "id", "user_id", 'NEW', NULL, "created_at" FROM "orders" ORDER BY "created_at", "id";
INSERT INTO "order_changes" ("order_id", "user_id", "status", "cancel_reason", "at")
SELECT "id", "user_id", "status", "cancel_reason", "updated_at" FROM "orders" WHERE "status" <> 'NEW'
ORDER BY "updated_at", "id";
