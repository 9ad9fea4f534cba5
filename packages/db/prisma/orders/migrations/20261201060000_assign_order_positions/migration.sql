-- Stamps commit-ordered positions on up to `batch` order changes that have none yet (see
-- packages/orders/src/order-log.ts for why positions are stamped after commit), in ONE round trip.
-- The advisory lock is taken first and held until the caller's transaction ends; each statement of a
-- VOLATILE plpgsql function reads with a fresh snapshot (READ COMMITTED), so the UPDATE below sees
-- every position committed by the run that held the lock before. Called as
-- `SELECT * FROM assign_order_positions(500)` in its own (implicit) transaction.
CREATE FUNCTION "assign_order_positions"("batch" INTEGER)
RETURNS TABLE ("position" BIGINT, "order_id" UUID, "user_id" UUID, "status" "OrderStatus",
               "cancel_reason" "CancelReason", "at" TIMESTAMPTZ, "amount" BIGINT, "description" TEXT)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1612713034);
    RETURN QUERY
    WITH head AS (SELECT coalesce(max(c.position), 0) AS p FROM order_changes AS c),
    pending AS (
        SELECT w.id, row_number() OVER (ORDER BY w.id) AS n
        FROM (SELECT c.id FROM order_changes AS c WHERE c.position IS NULL ORDER BY c.id LIMIT batch) AS w
    ),
    stamped AS (
        UPDATE order_changes AS c SET position = head.p + pending.n
        FROM head, pending WHERE c.id = pending.id
        RETURNING c.position, c.order_id, c.user_id, c.status, c.cancel_reason, c.at
    )
    SELECT s.position, s.order_id, s.user_id, s.status, s.cancel_reason, s.at::timestamptz, o.amount,
           o.description
    FROM stamped AS s JOIN orders AS o ON o.id = s.order_id
    ORDER BY s.position;
END;
$$;
