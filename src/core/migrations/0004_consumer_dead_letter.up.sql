-- The dead-letter table of a service's event consumers (core/consumer.c, svc_module_t
-- .consumers): core.create_dead_letter('<schema>') creates <schema>.dead_letter; a service that
-- declares consumers calls it in its migration after core.create_outbox (core.drop_dead_letter
-- in the down migration). One row per (consumer, event) that failed: `dead` false while the
-- event is still being retried (tries counts the failed tries), true once it reached the
-- consumer's max_tries (the event is then also claimed in <schema>.inbox, so it is never applied
-- later, and acked). Written only in the relay scope (the consumer's bookkeeping transaction);
-- network administrators may read it (an operator inspects, fixes and replays: delete the row
-- and its inbox row, then republish). RLS enabled and forced like every table.
CREATE FUNCTION core.create_dead_letter(schema_name text) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    s text := schema_name;
BEGIN
    EXECUTE format($$
        CREATE TABLE %1$I.dead_letter (
            consumer        text NOT NULL,
            event_id        uuid NOT NULL,
            subject         text NOT NULL,
            tenant_id       uuid,
            payload         text NOT NULL,             -- the message as received
            tries           integer NOT NULL DEFAULT 1,
            error           text NOT NULL DEFAULT '',  -- the last failure (code: message)
            dead            boolean NOT NULL DEFAULT false,
            first_failed_at timestamptz NOT NULL DEFAULT now(),
            last_failed_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        )$$, s);
    EXECUTE format('CREATE INDEX dead_letter_dead_idx ON %I.dead_letter (last_failed_at) '
                   'WHERE dead', s);
    EXECUTE format('ALTER TABLE %I.dead_letter ENABLE ROW LEVEL SECURITY', s);
    EXECUTE format('ALTER TABLE %I.dead_letter FORCE ROW LEVEL SECURITY', s);
    EXECUTE format('CREATE POLICY dead_letter_relay ON %I.dead_letter TO reciprocal_app '
                   'USING (core.is_relay()) WITH CHECK (core.is_relay())', s);
    EXECUTE format('CREATE POLICY dead_letter_admin_read ON %I.dead_letter FOR SELECT '
                   'TO reciprocal_app USING (core.is_network_admin())', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.dead_letter TO reciprocal_app', s);
END
$fn$;

CREATE FUNCTION core.drop_dead_letter(schema_name text) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I.dead_letter', schema_name);
END
$fn$;

REVOKE ALL ON FUNCTION core.create_dead_letter(text), core.drop_dead_letter(text) FROM PUBLIC;
