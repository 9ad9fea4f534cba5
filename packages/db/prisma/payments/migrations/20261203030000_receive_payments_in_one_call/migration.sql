-- ---------------------------------------------------------------------------------------------------
-- Written by hand (no schema change): payment requests stored and decided in one call.
-- ---------------------------------------------------------------------------------------------------

-- The payments worker stored a group's requests in the inbox in one statement (its own commit), then
-- decided them in another (`decide_payments`): two round trips and two commits per group, one after the
-- other on the worker's single group pipeline. At the bench's half load a group is one to three
-- requests, so the store's commit was paid by nearly every payment, and the next group waited for both.
-- `receive_payments` does the two in one statement, one transaction: it stores what is new (message id
-- order, so two calls with shared messages wait for each other in one order), then decides the given
-- messages with `decide_payments`, and says of each whether this call stored it.
--
-- Nothing is stored without its decision any more, so a worker killed in the middle leaves nothing: the
-- job is delivered again (BullMQ's stalled check) and decided then. The inbox sweep stays for entries
-- stored on their own (by a worker older than this migration, or by hand).
--
-- No new lock order: the inbox inserts come first, and a call waits there only for another call's
-- uncommitted insert of the same message, which that call made before taking any other lock (the
-- orders' advisory locks, the inbox row locks and the accounts, in that order, in decide_payments).
CREATE FUNCTION "receive_payments"("messages" JSONB[], "results_queue" TEXT, "grace_seconds" FLOAT8)
RETURNS TABLE ("message_id" UUID, "stored" BOOLEAN, "status" TEXT, "result" JSONB, "differs" BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    ids UUID[];
    fresh UUID[];
BEGIN
    SELECT array_agg((m.message ->> 'messageId')::uuid ORDER BY m.n) INTO ids
    FROM unnest(messages) WITH ORDINALITY AS m(message, n);
    WITH inserted AS (
        INSERT INTO inbox (message_id, type, payload)
        SELECT (m.message ->> 'messageId')::uuid, m.message ->> 'type', m.message
        FROM unnest(messages) AS m(message)
        ORDER BY 1
        ON CONFLICT (message_id) DO NOTHING
        RETURNING inbox.message_id)
    SELECT coalesce(array_agg(inserted.message_id), '{}') INTO fresh FROM inserted;
    RETURN QUERY
        SELECT d.message_id, d.message_id = ANY(fresh), d.status, d.result, d.differs
        FROM decide_payments(ids, results_queue, grace_seconds) AS d;
END;
$$;
