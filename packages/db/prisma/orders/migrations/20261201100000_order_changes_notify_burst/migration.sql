-- ---------------------------------------------------------------------------------------------------
-- Written by hand (no schema change): one wake-up of the position assigner per burst of creates.
-- ---------------------------------------------------------------------------------------------------

-- Each create used to notify. Postgres delivers a notification by waking every backend that listens in
-- the database (the assigner's and the orders relay's), and the assigner's backend then wakes the orders
-- worker: three processes woken per order, for an assigner that waits 50 ms and mostly finds the order
-- stamped by its settle already. On the bench that was about a quarter of the sleeps (each one a
-- wake-up) of all processes per order at 64 in flight.
--
-- Now a create notifies unless the change before it is one younger than 20 ms still waiting:
-- the create that began the burst has notified, and the assigner, once woken, runs again every 50 ms for
-- as long as its runs find changes to stamp (packages/orders/src/position-assigner.ts). Settles stamp
-- the creates waiting before them too. A create is left to the assigner's fallback poll (OUTBOX_POLL_MS)
-- only when its commit comes more than 50 ms after its insert and no settle follows it: late, never lost.
--
-- A row trigger, and only for rows still waiting (settles write theirs numbered): its query names the new
-- row's id, so Postgres plans it once per connection; a statement trigger's query over its transition
-- table is planned at every call, which cost a create about 0.25 ms of Postgres's CPU.
CREATE OR REPLACE FUNCTION "order_changes_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The newest change still waiting before this one, among the 1,000 ids before it: a few index
    -- pages however many changes wait (the assigner away) and however many stamped ones the index holds
    -- until vacuum. 1,000 ids in 20 ms would be 50,000 changes a second; past them the answer is
    -- "notify", which is always safe.
    IF coalesce((
        SELECT c.at < now() - interval '20 milliseconds'
        FROM order_changes AS c
        WHERE c.position IS NULL AND c.id < NEW.id AND c.id >= NEW.id - 1000
        ORDER BY c.id DESC
        LIMIT 1
    ), true) THEN
        PERFORM pg_notify('gozon_order_changes', '');
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER "order_changes_notify" ON "order_changes";
CREATE TRIGGER "order_changes_notify" AFTER INSERT ON "order_changes"
    FOR EACH ROW WHEN (NEW."position" IS NULL)
    EXECUTE FUNCTION "order_changes_notify"();
