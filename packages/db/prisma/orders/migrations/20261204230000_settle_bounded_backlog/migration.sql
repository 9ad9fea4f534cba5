-- ---------------------------------------------------------------------------------------------------
-- Written by hand (no schema change): a settle numbers a bounded share of the waiting creates.
-- ---------------------------------------------------------------------------------------------------

-- A settle used to number every waiting create before its own changes (`assign_order_positions` with
-- no limit). Creates wait only while the orders worker is away (its assigner and its settles are what
-- number them), and orders keep coming in meanwhile: after a two-minute outage at 300 orders a second,
-- the first settle numbered 36,000 rows, under the lock every settle and the assigner take, and handed
-- them all to one publish.
--
-- What the feed needs from a settle is that an order's creation comes before its settle, so a settle
-- must number the waiting creates of its own orders. The others it numbers only up to `batch`, oldest
-- first (a few at a time in normal running, where this saves the assigner a run); the rest are the
-- assigner's, in its own batches. Positions stay dense, and a position is still handed out only after
-- its change committed (whoever holds the lock numbers committed rows max+1, max+2, ..., in row-id
-- order among those it takes), so a feed that resumes after P still misses nothing. But creates are no
-- longer always numbered in the order they committed: after a backlog, a settled order's creation (and
-- its settle) come before older creates still waiting. Each order's own changes keep their order.
CREATE FUNCTION "assign_order_positions"("batch" INTEGER, "orders" UUID[])
RETURNS TABLE ("position" BIGINT, "order_id" UUID, "user_id" UUID, "status" "OrderStatus",
               "cancel_reason" "CancelReason", "at" TIMESTAMPTZ, "amount" BIGINT, "description" TEXT)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1612713034);
    RETURN QUERY
    WITH head AS (SELECT coalesce(max(c.position), 0) AS p FROM order_changes AS c),
    pending AS (
        SELECT w.id, row_number() OVER (ORDER BY w.id) AS n
        FROM ((SELECT c.id FROM order_changes AS c WHERE c.position IS NULL ORDER BY c.id LIMIT batch)
              UNION
              -- By order id, then filtered: `OFFSET 0` keeps "position IS NULL" out of the scan, since a
              -- plan made on a small table (kept by the connection) walked the indexes of position
              -- instead, with an entry for every create numbered since the last vacuum.
              SELECT mine.id
              FROM (SELECT c.id, c.position FROM order_changes AS c WHERE c.order_id = ANY(orders) OFFSET 0) AS mine
              WHERE mine.position IS NULL) AS w
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

-- The assigner's form: the oldest `batch` waiting changes, none singled out.
CREATE OR REPLACE FUNCTION "assign_order_positions"("batch" INTEGER)
RETURNS TABLE ("position" BIGINT, "order_id" UUID, "user_id" UUID, "status" "OrderStatus",
               "cancel_reason" "CancelReason", "at" TIMESTAMPTZ, "amount" BIGINT, "description" TEXT)
LANGUAGE sql VOLATILE AS $$
    SELECT * FROM assign_order_positions(batch, '{}'::uuid[]);
$$;

-- As in 20261202130000, but the waiting creates numbered first are the group's own and at most 500
-- others (the assigner's batch).
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
    FROM assign_order_positions(500, ids) AS a;
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
