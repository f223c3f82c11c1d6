-- Back to 0001's ensure_month (partitions without row security).
CREATE OR REPLACE FUNCTION analytics.ensure_month(m date) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    lo date := date_trunc('month', m)::date;
    part text := 'raw_events_' || to_char(lo, 'YYYYMM');
BEGIN
    IF to_regclass('analytics.' || part) IS NULL THEN
        EXECUTE format('CREATE TABLE IF NOT EXISTS analytics.%I PARTITION OF analytics.raw_events '
                       'FOR VALUES FROM (%L) TO (%L)', part,
                       lo::timestamp AT TIME ZONE 'UTC',
                       (lo + interval '1 month')::timestamp AT TIME ZONE 'UTC');
    END IF;
END
$fn$;

DO $do$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'analytics.raw_events'::regclass LOOP
        EXECUTE format('ALTER TABLE analytics.%I NO FORCE ROW LEVEL SECURITY', p.relname);
        EXECUTE format('ALTER TABLE analytics.%I DISABLE ROW LEVEL SECURITY', p.relname);
    END LOOP;
END
$do$;
