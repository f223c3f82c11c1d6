-- The relay's pending rows by the inserting transaction's id (core/outbox.c, outbox_relay_from).
-- outbox_unpublished_idx (seq) WHERE published_at IS NULL kept an entry for every row the relay
-- had published until VACUUM removed it (an UPDATE of published_at leaves the old entry behind),
-- and every pass woken by a notification walked them all from the lowest seq: ~1.5 ms per pass
-- after a few thousand events (docs/reciprocal.md "Speed: the relay's pass and the request's
-- wake (stop 21)").
-- outbox_pending_idx (xid) WHERE published_at IS NULL lets a pass start at the xmin of the
-- previous pass's snapshot: every transaction below it had ended when that pass read, so its
-- committed rows were seen then. Same number of index entries per event as before.
-- core.create_outbox (replaced below, otherwise identical to 0003's) creates the new index for a
-- new schema; the loop at the end swaps the index on every existing <schema>.outbox.
CREATE OR REPLACE FUNCTION core.create_outbox(schema_name text) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    s text := schema_name;
BEGIN
    EXECUTE format($$
        CREATE TABLE %1$I.outbox (
            id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            seq          bigserial NOT NULL,                -- ordering only, never a cursor
            xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
            type         text NOT NULL,
            subject      text NOT NULL,
            tenant_id    uuid,
            payload      jsonb NOT NULL,                    -- the full event envelope
            created_at   timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        )$$, s);
    EXECUTE format('CREATE INDEX outbox_pending_idx ON %I.outbox (xid) '
                   'WHERE published_at IS NULL', s);
    EXECUTE format('ALTER TABLE %I.outbox ENABLE ROW LEVEL SECURITY', s);
    EXECUTE format('ALTER TABLE %I.outbox FORCE ROW LEVEL SECURITY', s);
    -- a service writes events of its own tenant (or network-wide ones as network admin)
    EXECUTE format('CREATE POLICY outbox_insert ON %I.outbox FOR INSERT WITH CHECK ('
                   'tenant_id IS NOT DISTINCT FROM core.current_club() '
                   'OR core.is_network_admin() OR core.is_relay())', s);
    -- only the relay reads events and marks them published
    EXECUTE format('CREATE POLICY outbox_relay_select ON %I.outbox FOR SELECT '
                   'USING (core.is_relay())', s);
    EXECUTE format('CREATE POLICY outbox_relay_update ON %I.outbox FOR UPDATE '
                   'USING (core.is_relay()) WITH CHECK (core.is_relay())', s);
    EXECUTE format('GRANT INSERT, SELECT ON %I.outbox TO reciprocal_app', s);
    EXECUTE format('GRANT UPDATE (published_at) ON %I.outbox TO reciprocal_app', s);
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO reciprocal_app',
                   pg_get_serial_sequence(format('%I.outbox', s), 'seq'));
    EXECUTE format('CREATE TRIGGER outbox_notify AFTER INSERT ON %I.outbox '
                   'FOR EACH STATEMENT EXECUTE FUNCTION core.outbox_notify()', s);

    EXECUTE format($$
        CREATE TABLE %1$I.inbox (
            consumer   text NOT NULL,
            event_id   uuid NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        )$$, s);
    -- The inbox records which events a consumer has applied (event ids only). It is not tenant
    -- data and a consumer must see every id it recorded whatever the scope of the transaction
    -- that applies the next event, so the policy admits all rows; RLS stays enabled and forced
    -- so that every table in the database has it (easy to audit: no exceptions).
    EXECUTE format('ALTER TABLE %I.inbox ENABLE ROW LEVEL SECURITY', s);
    EXECUTE format('ALTER TABLE %I.inbox FORCE ROW LEVEL SECURITY', s);
    EXECUTE format('CREATE POLICY inbox_app ON %I.inbox TO reciprocal_app '
                   'USING (true) WITH CHECK (true)', s);
    EXECUTE format('GRANT INSERT, SELECT ON %I.inbox TO reciprocal_app', s);

    -- 0003's retention (absent only when 0003 is applied after this one, as test_migrate does)
    IF to_regprocedure('core.outbox_retention(text)') IS NOT NULL THEN
        PERFORM core.outbox_retention(s);
    END IF;
END
$fn$;

DO $$
DECLARE
    s name;
BEGIN
    FOR s IN SELECT schemaname FROM pg_catalog.pg_tables WHERE tablename = 'outbox' ORDER BY 1
    LOOP
        EXECUTE format('CREATE INDEX outbox_pending_idx ON %I.outbox (xid) '
                       'WHERE published_at IS NULL', s);
        EXECUTE format('DROP INDEX IF EXISTS %I.outbox_unpublished_idx', s);
    END LOOP;
END
$$;
