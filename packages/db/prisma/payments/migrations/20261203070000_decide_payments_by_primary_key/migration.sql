-- ---------------------------------------------------------------------------------------------------
-- Written by hand (no schema change): decide_payments reads and locks its inbox rows by primary key.
-- ---------------------------------------------------------------------------------------------------

-- 20261202190000 read the group's inbox rows with `message_id = ANY(ids)` (the order locks, the row
-- locks, the accounts to lock, the loop's join, the processed mark). PL/pgSQL caches a statement's plan,
-- but for these it kept choosing a custom plan on every call: planned for the array it was given (one
-- id at half load), a custom plan always looked cheaper than the generic one (planned for ten), so each
-- call planned them all again. Sampled with perf on a backend deciding one request per call, 16.5% of its
-- time went to that. Forcing generic plans would have stopped it, but a generic plan made while a new
-- shop's inbox is nearly empty could read the whole table for as long as its connection lives.
-- As in `mark_outbox_sent`, each row is now read by its primary key, one statement per row, with
-- sequential scans off inside the function: PL/pgSQL then keeps one generic plan per statement (planned
-- once per connection), and that plan is the primary key whatever the tables held when it was made (with
-- sequential scans on, a plan made just after a one-row table was analysed scans the table, and keeps
-- scanning it as it grows: packages/payments/test/plans.test.ts). The locks are taken in the same order
-- as before (the orders' advisory locks, the inbox rows in message id order, the accounts in user id
-- order, each in key order); the results are the same.
CREATE OR REPLACE FUNCTION "decide_payments"("ids" UUID[], "results_queue" TEXT, "grace_seconds" FLOAT8)
RETURNS TABLE ("message_id" UUID, "status" TEXT, "result" JSONB, "differs" BOOLEAN)
LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    wanted UUID;
    entry RECORD;
    earlier RECORD;
    order_keys BIGINT[] := '{}';
    users UUID[] := '{}';
    request_order UUID;
    request_user UUID;
    request_amount BIGINT;
    balance_left BIGINT;
    decided_outcome "PaymentOutcome";
    decided_reason "FailureReason";
    result_user TEXT;
    result_amount BIGINT;
BEGIN
    FOR wanted IN SELECT DISTINCT u.id FROM unnest(ids) AS u(id) ORDER BY u.id LOOP
        SELECT i.payload INTO entry FROM inbox i WHERE i.message_id = wanted;
        IF FOUND THEN
            order_keys := order_keys || hashtextextended(lower(entry.payload #>> '{payload,orderId}'), 0);
        END IF;
    END LOOP;
    PERFORM count(pg_advisory_xact_lock(sorted.k))
    FROM (SELECT DISTINCT k.k FROM unnest(order_keys) AS k(k) WHERE k.k IS NOT NULL ORDER BY k.k) AS sorted;
    FOR wanted IN SELECT DISTINCT u.id FROM unnest(ids) AS u(id) ORDER BY u.id LOOP
        SELECT i.payload, i.processed_at IS NOT NULL AS done INTO entry
        FROM inbox i WHERE i.message_id = wanted FOR UPDATE;
        IF FOUND AND NOT entry.done AND is_payment_request(entry.payload) THEN
            users := users || (entry.payload #>> '{payload,userId}')::uuid;
        END IF;
    END LOOP;
    -- One order alone needs no account lock ahead: its UPDATE takes the only one.
    IF cardinality(users) > 1 THEN
        FOR wanted IN SELECT DISTINCT u.id FROM unnest(users) AS u(id) ORDER BY u.id LOOP
            PERFORM 1 FROM accounts a WHERE a.user_id = wanted FOR NO KEY UPDATE;
        END LOOP;
    END IF;

    FOR wanted IN
        SELECT given.id FROM (SELECT DISTINCT ON (u.id) u.id, u.n FROM unnest(ids) WITH ORDINALITY AS u(id, n)
                              ORDER BY u.id, u.n) AS given
        ORDER BY given.n
    LOOP
        SELECT i.message_id AS id, i.payload, i.processed_at IS NOT NULL AS done INTO entry
        FROM inbox i WHERE i.message_id = wanted;
        CONTINUE WHEN NOT FOUND;
        message_id := entry.id;
        result := NULL;
        differs := false;
        IF entry.done THEN
            status := 'already-processed';
        ELSIF NOT is_payment_request(entry.payload) THEN
            status := 'invalid';
            UPDATE inbox i SET processed_at = now() WHERE i.message_id = entry.id;
        ELSE
            request_order := (entry.payload #>> '{payload,orderId}')::uuid;
            request_user := (entry.payload #>> '{payload,userId}')::uuid;
            request_amount := (entry.payload #>> '{payload,amount}')::bigint;
            SELECT d.user_id, d.amount, d.outcome, d.reason INTO earlier
            FROM payment_decisions d WHERE d.order_id = request_order;
            IF FOUND THEN
                status := 'resent';
                differs := earlier.user_id <> request_user OR earlier.amount <> request_amount;
                decided_outcome := earlier.outcome;
                decided_reason := earlier.reason;
                result_user := earlier.user_id::text;
                result_amount := earlier.amount;
            ELSE
                status := 'decided';
                UPDATE accounts a SET balance = a.balance - request_amount, updated_at = now()
                WHERE a.user_id = request_user AND a.balance >= request_amount
                RETURNING a.balance INTO balance_left;
                IF FOUND THEN
                    INSERT INTO ledger_entries (user_id, kind, amount, order_id, balance_after)
                    VALUES (request_user, 'ORDER_DEBIT', -request_amount, request_order, balance_left);
                    decided_outcome := 'SUCCEEDED';
                    decided_reason := NULL;
                ELSE
                    decided_outcome := 'FAILED';
                    decided_reason := CASE
                        WHEN EXISTS (SELECT 1 FROM accounts a WHERE a.user_id = request_user)
                        THEN 'INSUFFICIENT_FUNDS'::"FailureReason"
                        ELSE 'NO_ACCOUNT'::"FailureReason" END;
                END IF;
                INSERT INTO payment_decisions (order_id, user_id, amount, outcome, reason)
                VALUES (request_order, request_user, request_amount, decided_outcome, decided_reason);
                result_user := entry.payload #>> '{payload,userId}';
                result_amount := request_amount;
            END IF;
            -- The result's envelope and payload as @gozon/messaging/contracts defines PaymentSucceeded@1
            -- and PaymentFailed@1; the worker parses each one against the contract before publishing it.
            result := jsonb_build_object(
                'messageId', gen_random_uuid(),
                'type', CASE decided_outcome WHEN 'SUCCEEDED' THEN 'PaymentSucceeded' ELSE 'PaymentFailed' END,
                'version', 1,
                'occurredAt', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'payload', jsonb_build_object(
                    'orderId', entry.payload #>> '{payload,orderId}',
                    'userId', result_user,
                    'amount', result_amount)
                    || CASE WHEN decided_reason IS NULL THEN '{}'::jsonb
                            ELSE jsonb_build_object('reason', decided_reason) END);
            INSERT INTO outbox (id, queue, type, payload, relay_after)
            VALUES ((result ->> 'messageId')::uuid, results_queue, result ->> 'type', result,
                    now() + make_interval(secs => grace_seconds));
            UPDATE inbox i SET processed_at = now() WHERE i.message_id = entry.id;
        END IF;
        RETURN NEXT;
    END LOOP;
END;
$$;
