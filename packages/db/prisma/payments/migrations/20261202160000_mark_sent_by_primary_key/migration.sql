-- ---------------------------------------------------------------------------------------------------
-- Written by hand (no schema change): the writer's sent marks find each outbox row by primary key.
-- ---------------------------------------------------------------------------------------------------

-- A writer that published its rows right after the commit marks them sent in one call every 50 ms
-- (packages/messaging/src/outbox-publisher.ts). As one `UPDATE ... WHERE id = ANY($1) AND sent_at IS NULL`
-- the planner reached the rows through an index of unsent rows, because the statistics say few rows are
-- unsent. But every sent row's unsent entry stays in those indexes until vacuum, and a bitmap scan never
-- marks one dead: late in a bench run a mark of 47 rows walked 1,609 entries (566-1,044 buffers a call).
-- Without `sent_at IS NULL`, a plan made while the table was small (a fresh database) was a sequential
-- scan, kept while the table grew (a connection keeps its plans until the table's next ANALYZE).
-- Here each row is updated on its own, `WHERE id = $1`, and "still unsent" is written
-- `num_nulls(sent_at) = 1`, which no index matches: the primary key is the only index left, and with
-- sequential scans off (inside this function only) it is the plan even when the plan is made on a table
-- of one page. A row the relay sent first (after the writer's grace) is left as it is, as before. Rows go
-- in id order, so two marks of shared rows cannot deadlock. Returns how many rows it marked.
CREATE FUNCTION "mark_outbox_sent"("ids" UUID[]) RETURNS INTEGER
LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $$
DECLARE
    row_id UUID;
    found_rows INTEGER;
    marked INTEGER := 0;
BEGIN
    FOR row_id IN SELECT DISTINCT u.id FROM unnest(ids) AS u(id) ORDER BY u.id LOOP
        UPDATE outbox SET sent_at = now(), attempts = attempts + 1
        WHERE id = row_id AND num_nulls(sent_at) = 1;
        GET DIAGNOSTICS found_rows = ROW_COUNT;
        marked := marked + found_rows;
    END LOOP;
    RETURN marked;
END;
$$;
