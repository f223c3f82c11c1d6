-- The relay's pending rows by the inserting transaction's id (core/outbox.c, outbox_relay_from).
-- outbox_unpublished_idx (seq) WHERE published_at IS NULL kept an entry for every row the relay
-- had published until VACUUM removed it (an UPDATE of published_at leaves the old entry behind),
-- and every pass woken by a notification walked them all from the lowest seq: ~1.5 ms per pass
-- after a few thousand events (docs/reciprocal.md "Speed: the relay's pass and the request's
-- wake (stop 21)"). outbox_pending_idx (xid) WHERE published_at IS NULL lets a pass start at
-- the xmin of the previous pass's snapshot: every transaction below it had ended when that pass
-- read, so its committed rows were seen then. Same number of index entries per event as before.
-- core.outbox_pending_index(schema) swaps the index on one <schema>.outbox; core.create_outbox
-- becomes the previous one (kept as core.create_outbox_0003) followed by the swap, and the loop
-- at the end swaps the index on every existing <schema>.outbox.
CREATE FUNCTION core.outbox_pending_index(schema_name text) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    EXECUTE format('CREATE INDEX outbox_pending_idx ON %I.outbox (xid) '
                   'WHERE published_at IS NULL', schema_name);
    EXECUTE format('DROP INDEX IF EXISTS %I.outbox_unpublished_idx', schema_name);
END
$fn$;

ALTER FUNCTION core.create_outbox(text) RENAME TO create_outbox_0003;

CREATE FUNCTION core.create_outbox(schema_name text) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    PERFORM core.create_outbox_0003(schema_name);
    PERFORM core.outbox_pending_index(schema_name);
END
$fn$;

REVOKE ALL ON FUNCTION core.outbox_pending_index(text), core.create_outbox(text) FROM PUBLIC;

DO $$
DECLARE
    s name;
BEGIN
    FOR s IN SELECT schemaname FROM pg_catalog.pg_tables WHERE tablename = 'outbox' ORDER BY 1
    LOOP
        PERFORM core.outbox_pending_index(s);
    END LOOP;
END
$$;
