-- The outbox trigger's NOTIFY is skipped by a transaction that set app.outbox_wake = 'local'
-- (SET LOCAL): its process wakes its own relay after COMMIT (core/outbox.h outbox_wake), so a
-- stream of commits (a vote per cast) does not queue a notification each, which PostgreSQL
-- serialises at commit under one lock per database (docs/governance.md "Speed: the cast wakes
-- its own relay"). Every other transaction notifies as before.
CREATE OR REPLACE FUNCTION core.outbox_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF coalesce(pg_catalog.current_setting('app.outbox_wake', true), '') <> 'local' THEN
        PERFORM pg_catalog.pg_notify('outbox', TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END
$$;
