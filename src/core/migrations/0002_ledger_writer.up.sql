-- The ledger's writer scope (db_scope_t.ledger_writer -> set_config('app.ledger_writer', 'on')):
-- the only scope that may write the ledger schema (commits, keys, checkpoints, cosignatures).
-- Separate from core.is_relay() so that the outbox relay cannot write the ledger.
CREATE FUNCTION core.is_ledger_writer() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(pg_catalog.current_setting('app.ledger_writer', true), 'off') = 'on' $$;

REVOKE ALL ON FUNCTION core.is_ledger_writer() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.is_ledger_writer() TO reciprocal_app;
