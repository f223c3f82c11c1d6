-- Undoes 0007_outbox_pending_xid.up.sql: outbox_unpublished_idx (seq) back on every existing
-- <schema>.outbox in place of outbox_pending_idx, and the previous core.create_outbox.
DO $$
DECLARE
    s name;
BEGIN
    FOR s IN SELECT schemaname FROM pg_catalog.pg_tables WHERE tablename = 'outbox' ORDER BY 1
    LOOP
        EXECUTE format('CREATE INDEX outbox_unpublished_idx ON %I.outbox (seq) '
                       'WHERE published_at IS NULL', s);
        EXECUTE format('DROP INDEX IF EXISTS %I.outbox_pending_idx', s);
    END LOOP;
END
$$;

DROP FUNCTION core.create_outbox(text);
ALTER FUNCTION core.create_outbox_0003(text) RENAME TO create_outbox;
DROP FUNCTION core.outbox_pending_index(text);
