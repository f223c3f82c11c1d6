-- core: what every service schema builds on. The tenant-scope functions read the settings that
-- db_begin applies in each transaction (set_config(..., true)); RLS policies call them.
-- Runs as reciprocal_owner; the services connect as reciprocal_app (no BYPASSRLS).
CREATE SCHEMA core;
GRANT USAGE ON SCHEMA core TO reciprocal_app;

-- The club (tenant) of the current transaction, NULL when none. Functions are plain SQL so the
-- planner inlines them into policies (the setting is read once per statement, indexes apply).
CREATE FUNCTION core.current_club() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(pg_catalog.current_setting('app.club_id', true), '')::uuid $$;

CREATE FUNCTION core.is_network_admin() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(pg_catalog.current_setting('app.network_admin', true), 'off') = 'on' $$;

-- True only in the outbox relay's transactions (it reads and marks events of every tenant).
CREATE FUNCTION core.is_relay() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(pg_catalog.current_setting('app.relay', true), 'off') = 'on' $$;

REVOKE ALL ON FUNCTION core.current_club(), core.is_network_admin(), core.is_relay() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.current_club(), core.is_network_admin(), core.is_relay()
    TO reciprocal_app;

-- Statement-level AFTER INSERT trigger on every <schema>.outbox: wakes the relay (LISTEN outbox)
-- at commit with the schema name as payload. Notifications of one transaction are merged.
CREATE FUNCTION core.outbox_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('outbox', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;

-- core.create_outbox('member') creates member.outbox and member.inbox with their policies and
-- grants. Call it from a service's up migration after CREATE SCHEMA (the schema's USAGE grant is
-- the service's own); core.drop_outbox undoes it in the down migration.
CREATE FUNCTION core.create_outbox(schema_name text) RETURNS void
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
    EXECUTE format('CREATE INDEX outbox_unpublished_idx ON %I.outbox (seq) '
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
END
$fn$;

CREATE FUNCTION core.drop_outbox(schema_name text) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I.inbox', schema_name);
    EXECUTE format('DROP TABLE IF EXISTS %I.outbox', schema_name);
END
$fn$;

REVOKE ALL ON FUNCTION core.create_outbox(text), core.drop_outbox(text) FROM PUBLIC;
