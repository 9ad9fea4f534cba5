-- ---------------------------------------------------------------------------------------------------
-- Written by hand (no schema change): a payment result settles its order only when it names the
-- order's own user and amount.
-- ---------------------------------------------------------------------------------------------------

-- `settle_orders` found each order by its id alone, so a result naming a real order with another user
-- or another amount (forged on the results queue by anyone who can write to Redis) settled it. Now the
-- result's user and amount are part of the condition of the same update by primary key: one comparison
-- more per row, nothing more read. A result that matches no NEW order changes nothing, as a repeated or
-- late one always did; the caller reads the orders its results left unchanged anyway, and that is where
-- it tells a mismatch (refused as poison) from a late result.
--
-- The old three-argument form is dropped, so no caller can settle without the check: a worker of the
-- previous release still running during a deploy fails its settles, and BullMQ retries those jobs until
-- a new worker takes them.
DROP FUNCTION "settle_orders"(UUID[], "OrderStatus"[], "CancelReason"[]);

CREATE FUNCTION "settle_orders"("ids" UUID[], "user_ids" UUID[], "amounts" BIGINT[],
                                "statuses" "OrderStatus"[], "reasons" "CancelReason"[])
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
    FROM assign_order_positions(500, ids) AS a;
    SELECT coalesce(max(c.position), 0) INTO head FROM order_changes AS c;
    FOR i IN SELECT s.n::int FROM unnest(ids) WITH ORDINALITY AS s(id, n) ORDER BY s.id, s.n LOOP
        UPDATE orders AS t SET status = statuses[i], cancel_reason = reasons[i], updated_at = now()
        WHERE t.id = ids[i] AND t.status::text = 'NEW'
          AND t.user_id = user_ids[i] AND t.amount = amounts[i]
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
