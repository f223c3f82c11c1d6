-- Month partitions of analytics.raw_events get ENABLE + FORCE ROW LEVEL SECURITY like every
-- tenant table (the schema lint in test_member_rls found them without). They carry no policy:
-- a partition named directly shows nothing to anyone (the app role has no grant on it either);
-- every read and write goes through analytics.raw_events, whose policies apply.
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
        EXECUTE format('ALTER TABLE analytics.%I ENABLE ROW LEVEL SECURITY', part);
        EXECUTE format('ALTER TABLE analytics.%I FORCE ROW LEVEL SECURITY', part);
    END IF;
END
$fn$;

DO $do$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'analytics.raw_events'::regclass LOOP
        EXECUTE format('ALTER TABLE analytics.%I ENABLE ROW LEVEL SECURITY', p.relname);
        EXECUTE format('ALTER TABLE analytics.%I FORCE ROW LEVEL SECURITY', p.relname);
    END LOOP;
END
$do$;
