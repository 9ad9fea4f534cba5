-- AlterTable
ALTER TABLE "outbox" ADD COLUMN "relay_after" TIMESTAMPTZ(3);

-- ---------------------------------------------------------------------------------------------------
-- Written by hand; everything above is what `prisma migrate dev` generates from the schema.
-- ---------------------------------------------------------------------------------------------------

-- A row its writer publishes right after the commit (packages/messaging/src/outbox-publisher.ts) is
-- written with `relay_after` in the future: the relay leaves it alone until then, and is not woken for it.
-- Every other row has none (NULL: the relay's at once).
CREATE OR REPLACE FUNCTION "outbox_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gozon_outbox', q.queue)
    FROM (SELECT DISTINCT queue FROM inserted WHERE relay_after IS NULL) AS q;
    RETURN NULL;
END;
$$;
