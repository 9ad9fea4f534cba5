-- ---------------------------------------------------------------------------------------------------
-- Written by hand (no schema change): stored payment requests decided in one call.
-- ---------------------------------------------------------------------------------------------------

-- The payments worker decided a group of stored requests in one transaction of five or more statements
-- (BEGIN; lock the entries and their orders; read recorded decisions; one debit per turn of each
-- account; record decisions, outbox rows and processed marks; COMMIT), each a round trip between the
-- worker and Postgres. At low load a group is one request, so every payment paid those round trips
-- one after another, on a machine where each one waits its turn for a core: the bench's half-load runs
-- spent half of create→settle between the payments worker's pick-up and its result. `decide_payments`
-- does the same steps inside Postgres, as one statement (its own transaction): one round trip per group,
-- and its statements are planned once per connection.
--
-- The rules are those the worker's code kept, in the same order of locks, so two calls (or a call and a
-- top-up) cannot deadlock: the orders' advisory locks in key order (a reconciler's re-request of an
-- order never decides beside the original), then the inbox rows in message id order, then the accounts
-- in user id order. Entries are then decided in the order of `ids` (its first copy of an id): an entry
-- processed before is left alone; an order with a recorded decision gets it again (never decided twice,
-- never debited twice; `differs` says the request does not match it); otherwise the account is charged
-- when it can pay (balance and ledger entry in one statement's rows, as before) and the decision is
-- recorded. Each decided or re-sent entry writes its result message to the outbox (`relay_after =
-- now() + grace_seconds`; null: the relay at once) and returns it for the caller to publish.

-- A stored PaymentRequested@1 with well-formed ids and amount. Only messages the contract accepted are
-- stored, so this fails only for a hand-edited row, which is then marked processed and skipped (the
-- worker logs it) instead of failing the whole group for ever. The bounds are MAX_AMOUNT's
-- (packages/messaging/src/limits.ts).
CREATE FUNCTION "is_payment_request"("message" JSONB) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(
        message ->> 'type' = 'PaymentRequested'
        AND message -> 'version' = '1'::jsonb
        AND message #>> '{payload,orderId}' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        AND message #>> '{payload,userId}' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        AND jsonb_typeof(message #> '{payload,amount}') = 'number'
        AND CASE WHEN message #>> '{payload,amount}' ~ '^[1-9][0-9]{0,9}$'
                 THEN (message #>> '{payload,amount}')::bigint <= 1000000000
                 ELSE false END,
        false)
$$;

CREATE FUNCTION "decide_payments"("ids" UUID[], "results_queue" TEXT, "grace_seconds" FLOAT8)
RETURNS TABLE ("message_id" UUID, "status" TEXT, "result" JSONB, "differs" BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    entry RECORD;
    earlier RECORD;
    request_order UUID;
    request_user UUID;
    request_amount BIGINT;
    balance_left BIGINT;
    decided_outcome "PaymentOutcome";
    decided_reason "FailureReason";
    result_user TEXT;
    result_amount BIGINT;
    processed UUID[] := '{}';
BEGIN
    PERFORM count(pg_advisory_xact_lock(sorted.k))
    FROM (SELECT DISTINCT hashtextextended(lower(i.payload #>> '{payload,orderId}'), 0) AS k
          FROM inbox i WHERE i.message_id = ANY(ids) ORDER BY k) AS sorted;
    PERFORM 1 FROM inbox i WHERE i.message_id = ANY(ids) ORDER BY i.message_id FOR UPDATE;
    -- One order alone needs no account lock ahead: its UPDATE takes the only one.
    IF cardinality(ids) > 1 THEN
        PERFORM 1 FROM accounts a
        WHERE a.user_id IN (
            SELECT CASE WHEN is_payment_request(i.payload) THEN (i.payload #>> '{payload,userId}')::uuid END
            FROM inbox i WHERE i.message_id = ANY(ids) AND i.processed_at IS NULL)
        ORDER BY a.user_id
        FOR NO KEY UPDATE;
    END IF;

    FOR entry IN
        SELECT i.message_id AS id, i.payload, i.processed_at IS NOT NULL AS done
        FROM (SELECT DISTINCT ON (u.id) u.id, u.n FROM unnest(ids) WITH ORDINALITY AS u(id, n)
              ORDER BY u.id, u.n) AS wanted
        JOIN inbox i ON i.message_id = wanted.id
        ORDER BY wanted.n
    LOOP
        message_id := entry.id;
        result := NULL;
        differs := false;
        IF entry.done THEN
            status := 'already-processed';
        ELSIF NOT is_payment_request(entry.payload) THEN
            status := 'invalid';
            processed := processed || entry.id;
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
            processed := processed || entry.id;
        END IF;
        RETURN NEXT;
    END LOOP;

    UPDATE inbox i SET processed_at = now() WHERE i.message_id = ANY(processed);
END;
$$;
