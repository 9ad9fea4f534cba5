-- ---------------------------------------------------------------------------------------------------
-- Written by hand (no schema change): a settle finds each of its orders by primary key.
-- ---------------------------------------------------------------------------------------------------

-- 20261201090000 updated the group's orders in one statement, `... FROM input WHERE o.id = input.id AND
-- o.status = 'NEW'`, and what that costs was the planner's guess, made once per connection:
--   * through a status index, because the statistics count live rows and few orders are NEW. But every
--     order's NEW entry stays in those indexes until vacuum, and a bitmap scan never marks it dead, so
--     each settle walked every order settled since the last vacuum (late in a bench run 12,000 entries
--     and 255 heap pages to settle one order; after an outage, every order of the backlog, per settle);
--   * or, for a plan made while the table was small (a fresh database), a sequential scan of orders,
--     kept while the table grew.
-- One `UPDATE ... WHERE id = $1` per order has one plan whatever the statistics say: the primary key.
-- The status is compared as text so that no status index is a candidate for it. Orders are still
-- settled, and their changes numbered, in order-id order; a repeated id finds its order settled.
CREATE OR REPLACE FUNCTION "settle_orders"("ids" UUID[], "statuses" "OrderStatus"[], "reasons" "CancelReason"[])
RETURNS TABLE ("settled" BOOLEAN, "position" BIGINT, "order_id" UUID, "user_id" UUID,
               "status" "OrderStatus", "cancel_reason" "CancelReason", "at" TIMESTAMPTZ,
               "amount" BIGINT, "description" TEXT, "created_at" TIMESTAMPTZ)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head BIGINT;
    i INTEGER;
    o RECORD;
BEGIN
    PERFORM pg_advisory_xact_lock(1612713034);
    RETURN QUERY
    SELECT false, a.position, a.order_id, a.user_id, a.status, a.cancel_reason, a.at, a.amount,
           a.description, NULL::timestamptz
    FROM assign_order_positions(2147483647) AS a;
    SELECT coalesce(max(c.position), 0) INTO head FROM order_changes AS c;
    FOR i IN SELECT s.n::int FROM unnest(ids) WITH ORDINALITY AS s(id, n) ORDER BY s.id, s.n LOOP
        UPDATE orders AS t SET status = statuses[i], cancel_reason = reasons[i], updated_at = now()
        WHERE t.id = ids[i] AND t.status::text = 'NEW'
        RETURNING t.id, t.user_id, t.status, t.cancel_reason, t.updated_at, t.amount, t.description,
                  t.created_at
        INTO o;
        CONTINUE WHEN NOT FOUND;
        head := head + 1;
        INSERT INTO order_changes (position, order_id, user_id, status, cancel_reason, at)
        VALUES (head, o.id, o.user_id, o.status, o.cancel_reason, o.updated_at);
        RETURN QUERY SELECT true, head, o.id, o.user_id, o.status, o.cancel_reason, o.updated_at::timestamptz,
                            o.amount, o.description, o.created_at::timestamptz;
    END LOOP;
END;
$$;
