-- Settles a group of orders and stamps their change-log positions in ONE statement (and so, called on its
-- own, one round trip and one commit), instead of settling first and stamping after the commit:
-- the live feed then hears of a settle as soon as it commits (see packages/orders/src/order-log.ts).
--
-- Order of work, all under the assigner's advisory lock (taken FIRST, before any row lock, so a settle
-- can never hold an order's row lock while it waits for the lock held by another settle of that order):
--   1. committed changes still waiting for a position (orders created since the last run) are stamped
--      first, so an order's creation always precedes its settle in the log;
--   2. the orders still NEW move to their final status, and their change rows are written already
--      numbered head+1, head+2, ... The lock is held until commit, so positions still become visible
--      in increasing order with no holes.
-- Rows come back with `settled` false for step 1 and true for step 2, in position order.
CREATE FUNCTION "settle_orders"("ids" UUID[], "statuses" "OrderStatus"[], "reasons" "CancelReason"[])
RETURNS TABLE ("settled" BOOLEAN, "position" BIGINT, "order_id" UUID, "user_id" UUID,
               "status" "OrderStatus", "cancel_reason" "CancelReason", "at" TIMESTAMPTZ,
               "amount" BIGINT, "description" TEXT, "created_at" TIMESTAMPTZ)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(1612713034);
    RETURN QUERY
    SELECT false, a.position, a.order_id, a.user_id, a.status, a.cancel_reason, a.at, a.amount,
           a.description, NULL::timestamptz
    FROM assign_order_positions(2147483647) AS a;
    SELECT coalesce(max(c.position), 0) INTO head FROM order_changes AS c;
    RETURN QUERY
    WITH input AS (
        SELECT DISTINCT ON (i.id) i.id, i.status, i.reason
        FROM unnest(ids, statuses, reasons) AS i(id, status, reason)
        ORDER BY i.id
    ),
    changed AS (
        UPDATE orders AS o SET status = input.status, cancel_reason = input.reason, updated_at = now()
        FROM input WHERE o.id = input.id AND o.status = 'NEW'
        RETURNING o.id, o.user_id, o.status, o.cancel_reason, o.updated_at, o.amount, o.description,
                  o.created_at
    ),
    numbered AS (
        SELECT c.*, head + row_number() OVER (ORDER BY c.id) AS p FROM changed AS c
    ),
    logged AS (
        INSERT INTO order_changes (position, order_id, user_id, status, cancel_reason, at)
        SELECT n.p, n.id, n.user_id, n.status, n.cancel_reason, n.updated_at FROM numbered AS n
    )
    SELECT true, n.p, n.id, n.user_id, n.status, n.cancel_reason, n.updated_at::timestamptz, n.amount,
           n.description, n.created_at::timestamptz
    FROM numbered AS n
    ORDER BY n.p;
END;
$$;

-- Settles write their change rows already numbered: only unnumbered rows (creates) need the assigner.
CREATE OR REPLACE FUNCTION "order_changes_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted WHERE position IS NULL) THEN
        PERFORM pg_notify('gozon_order_changes', '');
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER "order_changes_notify" ON "order_changes";
CREATE TRIGGER "order_changes_notify" AFTER INSERT ON "order_changes"
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION "order_changes_notify"();
