CREATE OR REPLACE FUNCTION core.outbox_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('outbox', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;
