-- analytics 0006: monthly rollups for the club report (docs/analytics.md "Report speed: monthly
-- rollups"). Every table here is a pure function of the daily rollups and is kept by statement
-- triggers on them, in the same transaction as the daily rows it derives from, whatever path
-- writes them (ingest, rebuild, a late or replayed event: the day's rows change, so its month
-- changes by exactly the difference). A month is the month of the daily row's local day (the
-- club's time zone, as the daily rollups).
--   monthly_visits   per (host, home, month): the sums of daily_visits' counters; days = the
--                    daily rows summed (the month row exists while it is > 0)
--   monthly_money    per (host, home, month, currency): amount and charges of daily_money
--   monthly_usage    per (club, month): sign-ins of daily_usage
--   monthly_rooms    per (host, home, month): occupied room nights of daily_rooms
--   key_months       per scope, member key and month: the daily rows holding the key. Scopes:
--                    kind 'v' (visitors: member_keys of daily_visits) at (host, home), (host,
--                    nil) = every home club, (nil, home) = every host; kind 'u' (sign-ins:
--                    daily_usage) at (club, nil). nil = '00000000-0000-0000-0000-000000000000'.
--   key_month_counts per scope, month m and prev: how many keys have m among their months and
--                    prev as their previous month ('-infinity': none). The distinct keys of
--                    whole months a..b = sum(keys) over a <= month <= b and prev < a (a key
--                    counts once: at its first month in the range) -- exact, no key read.
--   approve_months   per (host, home or nil, month): the approval delays (seconds) with their
--   approve_buckets  multiplicity, and the same per bucket of 1024 s: the median of a range is
--                    found in the buckets first, then among the seconds of one bucket.
-- analytics.rebuild_all() = rebuild() + rebuild_monthly() (full recomputation of this level).
CREATE TABLE analytics.monthly_visits (
    host_club_id uuid NOT NULL,
    home_club_id uuid NOT NULL,
    month        date NOT NULL,
    days         integer NOT NULL,
    requested    integer NOT NULL,
    approved     integer NOT NULL,
    declined     integer NOT NULL,
    confirmed    integer NOT NULL,
    checked_in   integer NOT NULL,
    completed    integer NOT NULL,
    no_show      integer NOT NULL,
    cancelled    integer NOT NULL,
    visits       integer NOT NULL,
    visitor_days   integer NOT NULL,
    visitor_nights integer NOT NULL,
    guests       integer NOT NULL,
    lead_0_1     integer NOT NULL,
    lead_2_7     integer NOT NULL,
    lead_8       integer NOT NULL,
    PRIMARY KEY (host_club_id, home_club_id, month)
);
CREATE INDEX monthly_visits_home_idx ON analytics.monthly_visits (home_club_id, month);
CREATE TABLE analytics.monthly_money (
    host_club_id uuid NOT NULL,
    home_club_id uuid NOT NULL,
    month        date NOT NULL,
    currency     text NOT NULL,
    days         integer NOT NULL,
    amount_minor bigint NOT NULL,
    charges      integer NOT NULL,
    PRIMARY KEY (host_club_id, home_club_id, month, currency)
);
CREATE INDEX monthly_money_home_idx ON analytics.monthly_money (home_club_id, month);
CREATE TABLE analytics.monthly_usage (
    club_id  uuid NOT NULL,
    month    date NOT NULL,
    days     integer NOT NULL,
    sign_ins integer NOT NULL,
    PRIMARY KEY (club_id, month)
);
CREATE TABLE analytics.monthly_rooms (
    host_club_id uuid NOT NULL,
    home_club_id uuid NOT NULL,
    month        date NOT NULL,
    days         integer NOT NULL,
    rooms        integer NOT NULL,
    PRIMARY KEY (host_club_id, home_club_id, month)
);
CREATE TABLE analytics.key_months (
    kind         "char" NOT NULL,
    host_club_id uuid NOT NULL,
    home_club_id uuid NOT NULL,
    member_key   text NOT NULL,
    month        date NOT NULL,
    days         integer NOT NULL,
    PRIMARY KEY (kind, host_club_id, home_club_id, member_key, month)
);
CREATE TABLE analytics.key_month_counts (
    kind         "char" NOT NULL,
    host_club_id uuid NOT NULL,
    home_club_id uuid NOT NULL,
    month        date NOT NULL,
    prev         date NOT NULL,
    keys         integer NOT NULL,
    PRIMARY KEY (kind, host_club_id, home_club_id, month, prev)
);
CREATE TABLE analytics.approve_months (
    host_club_id uuid NOT NULL,
    home_club_id uuid NOT NULL,
    month        date NOT NULL,
    secs         integer NOT NULL,
    n            integer NOT NULL,
    PRIMARY KEY (host_club_id, home_club_id, month, secs)
);
CREATE TABLE analytics.approve_buckets (
    host_club_id uuid NOT NULL,
    home_club_id uuid NOT NULL,
    month        date NOT NULL,
    bucket       integer NOT NULL,     -- floor(secs / 1024)
    n            integer NOT NULL,
    PRIMARY KEY (host_club_id, home_club_id, month, bucket)
);
-- the edge days of a range that is not whole months come from the daily rows of both sides
CREATE INDEX daily_visits_host_day_idx ON analytics.daily_visits (host_club_id, day);
CREATE INDEX daily_visits_home_day_idx ON analytics.daily_visits (home_club_id, day);
CREATE INDEX daily_money_home_day_idx ON analytics.daily_money (home_club_id, day);

-- RLS as the daily rollups: the consumers (relay) write; a club reads the rows where it is the
-- host or the home club; network administrators all. (usage: the club's own rows.)
DO $do$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['monthly_visits', 'monthly_money', 'monthly_rooms', 'key_months',
                             'key_month_counts', 'approve_months', 'approve_buckets'] LOOP
        EXECUTE format('ALTER TABLE analytics.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE analytics.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON analytics.%I USING (core.is_relay()) '
                       'WITH CHECK (core.is_relay())', t || '_relay', t);
        EXECUTE format('CREATE POLICY %I ON analytics.%I FOR SELECT USING (host_club_id = '
                       'core.current_club() OR home_club_id = core.current_club() OR '
                       'core.is_network_admin())', t || '_read', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON analytics.%I TO reciprocal_app',
                       t);
    END LOOP;
END
$do$;
ALTER TABLE analytics.monthly_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.monthly_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY monthly_usage_relay ON analytics.monthly_usage
    USING (core.is_relay()) WITH CHECK (core.is_relay());
CREATE POLICY monthly_usage_read ON analytics.monthly_usage FOR SELECT
    USING (club_id = core.current_club() OR core.is_network_admin());
GRANT SELECT, INSERT, UPDATE, DELETE ON analytics.monthly_usage TO reciprocal_app;

-- The monthly level is off while analytics.rebuild_all() rebuilds it from scratch.
CREATE FUNCTION analytics.monthly_on() RETURNS boolean
    LANGUAGE sql STABLE
    AS $fn$ SELECT coalesce(current_setting('analytics.monthly_off', true), '') <> 'on' $fn$;

-- Applies the key multiplicity changes in the temp table analytics_key_delta (kind, host, home,
-- key, month, days: signed) to key_months, and the change of each touched key's (month, prev)
-- pairs to key_month_counts: the pairs of the key's months before minus those after.
CREATE FUNCTION analytics.apply_key_delta() RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    IF to_regclass('pg_temp.analytics_key_pairs') IS NULL THEN
        CREATE TEMP TABLE analytics_key_pairs (kind "char", host uuid, home uuid, month date,
            prev date, s integer) ON COMMIT DELETE ROWS;
    END IF;
    INSERT INTO analytics_key_pairs
    SELECT km.kind, km.host_club_id, km.home_club_id, km.month,
           coalesce(lag(km.month) OVER (PARTITION BY km.kind, km.host_club_id, km.home_club_id,
                                        km.member_key ORDER BY km.month), '-infinity'), -1
    FROM analytics.key_months km
    JOIN (SELECT DISTINCT kind, host, home, k FROM analytics_key_delta) t
      ON km.kind = t.kind AND km.host_club_id = t.host AND km.home_club_id = t.home
     AND km.member_key = t.k;
    INSERT INTO analytics.key_months AS km (kind, host_club_id, home_club_id, member_key, month,
        days)
    SELECT kind, host, home, k, month, sum(days) FROM analytics_key_delta
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(days) <> 0
    ON CONFLICT (kind, host_club_id, home_club_id, member_key, month)
        DO UPDATE SET days = km.days + EXCLUDED.days;
    DELETE FROM analytics.key_months km USING (SELECT DISTINCT kind, host, home, k, month
                                               FROM analytics_key_delta) t
    WHERE km.kind = t.kind AND km.host_club_id = t.host AND km.home_club_id = t.home
      AND km.member_key = t.k AND km.month = t.month AND km.days = 0;
    INSERT INTO analytics_key_pairs
    SELECT km.kind, km.host_club_id, km.home_club_id, km.month,
           coalesce(lag(km.month) OVER (PARTITION BY km.kind, km.host_club_id, km.home_club_id,
                                        km.member_key ORDER BY km.month), '-infinity'), 1
    FROM analytics.key_months km
    JOIN (SELECT DISTINCT kind, host, home, k FROM analytics_key_delta) t
      ON km.kind = t.kind AND km.host_club_id = t.host AND km.home_club_id = t.home
     AND km.member_key = t.k;
    INSERT INTO analytics.key_month_counts AS c (kind, host_club_id, home_club_id, month, prev,
        keys)
    SELECT kind, host, home, month, prev, sum(s) FROM analytics_key_pairs
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(s) <> 0
    ON CONFLICT (kind, host_club_id, home_club_id, month, prev)
        DO UPDATE SET keys = c.keys + EXCLUDED.keys;
    DELETE FROM analytics.key_month_counts c USING (SELECT DISTINCT kind, host, home, month, prev
                                                    FROM analytics_key_pairs) t
    WHERE c.kind = t.kind AND c.host_club_id = t.host AND c.home_club_id = t.home
      AND c.month = t.month AND c.prev = t.prev AND c.keys = 0;
    DELETE FROM analytics_key_pairs;
    DELETE FROM analytics_key_delta;
END
$fn$;

CREATE FUNCTION analytics.key_delta_table() RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    IF to_regclass('pg_temp.analytics_key_delta') IS NULL THEN
        CREATE TEMP TABLE analytics_key_delta (kind "char", host uuid, home uuid, k text,
            month date, days integer) ON COMMIT DELETE ROWS;
    END IF;
END
$fn$;

-- daily_visits rows changed: the temp table analytics_dv_delta holds them signed (+1 new, -1
-- old); their months change by the same amounts.
CREATE FUNCTION analytics.apply_visits_delta() RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    INSERT INTO analytics.monthly_visits AS m
    SELECT host, home, date_trunc('month', day)::date, sum(s), sum(s * requested),
           sum(s * approved), sum(s * declined), sum(s * confirmed), sum(s * checked_in),
           sum(s * completed), sum(s * no_show), sum(s * cancelled), sum(s * visits),
           sum(s * visitor_days), sum(s * visitor_nights), sum(s * guests), sum(s * lead_0_1),
           sum(s * lead_2_7), sum(s * lead_8)
    FROM analytics_dv_delta GROUP BY 1, 2, 3
    ON CONFLICT (host_club_id, home_club_id, month) DO UPDATE SET days = m.days + EXCLUDED.days,
        requested = m.requested + EXCLUDED.requested, approved = m.approved + EXCLUDED.approved,
        declined = m.declined + EXCLUDED.declined, confirmed = m.confirmed + EXCLUDED.confirmed,
        checked_in = m.checked_in + EXCLUDED.checked_in,
        completed = m.completed + EXCLUDED.completed, no_show = m.no_show + EXCLUDED.no_show,
        cancelled = m.cancelled + EXCLUDED.cancelled, visits = m.visits + EXCLUDED.visits,
        visitor_days = m.visitor_days + EXCLUDED.visitor_days,
        visitor_nights = m.visitor_nights + EXCLUDED.visitor_nights,
        guests = m.guests + EXCLUDED.guests, lead_0_1 = m.lead_0_1 + EXCLUDED.lead_0_1,
        lead_2_7 = m.lead_2_7 + EXCLUDED.lead_2_7, lead_8 = m.lead_8 + EXCLUDED.lead_8;
    DELETE FROM analytics.monthly_visits m USING (SELECT DISTINCT host, home,
                                                  date_trunc('month', day)::date AS mo
                                                  FROM analytics_dv_delta) t
    WHERE m.host_club_id = t.host AND m.home_club_id = t.home AND m.month = t.mo AND m.days = 0;
    -- approval delays at (host, home) and (host, every home club)
    INSERT INTO analytics.approve_months AS a
    SELECT d.host, h.home, date_trunc('month', d.day)::date, x, sum(d.s)
    FROM analytics_dv_delta d CROSS JOIN LATERAL unnest(d.approve_secs) x
    CROSS JOIN LATERAL (VALUES (d.home), ('00000000-0000-0000-0000-000000000000'::uuid)) h(home)
    GROUP BY 1, 2, 3, 4 HAVING sum(d.s) <> 0
    ON CONFLICT (host_club_id, home_club_id, month, secs) DO UPDATE SET n = a.n + EXCLUDED.n;
    INSERT INTO analytics.approve_buckets AS a
    SELECT d.host, h.home, date_trunc('month', d.day)::date, floor(x / 1024.0)::integer,
           sum(d.s)
    FROM analytics_dv_delta d CROSS JOIN LATERAL unnest(d.approve_secs) x
    CROSS JOIN LATERAL (VALUES (d.home), ('00000000-0000-0000-0000-000000000000'::uuid)) h(home)
    GROUP BY 1, 2, 3, 4 HAVING sum(d.s) <> 0
    ON CONFLICT (host_club_id, home_club_id, month, bucket) DO UPDATE SET n = a.n + EXCLUDED.n;
    IF EXISTS (SELECT 1 FROM analytics_dv_delta WHERE cardinality(approve_secs) > 0) THEN
        DELETE FROM analytics.approve_months a USING (
            SELECT DISTINCT d.host, d.home, date_trunc('month', d.day)::date AS mo
            FROM analytics_dv_delta d WHERE cardinality(d.approve_secs) > 0) t
        WHERE a.host_club_id = t.host
          AND a.home_club_id IN (t.home, '00000000-0000-0000-0000-000000000000')
          AND a.month = t.mo AND a.n = 0;
        DELETE FROM analytics.approve_buckets a USING (
            SELECT DISTINCT d.host, d.home, date_trunc('month', d.day)::date AS mo
            FROM analytics_dv_delta d WHERE cardinality(d.approve_secs) > 0) t
        WHERE a.host_club_id = t.host
          AND a.home_club_id IN (t.home, '00000000-0000-0000-0000-000000000000')
          AND a.month = t.mo AND a.n = 0;
    END IF;
    -- visitors at (host, home), (host, every home club), (every host, home)
    PERFORM analytics.key_delta_table();
    INSERT INTO analytics_key_delta
    SELECT 'v', sc.host, sc.home, k, date_trunc('month', d.day)::date, sum(d.s)
    FROM analytics_dv_delta d CROSS JOIN LATERAL unnest(d.member_keys) k
    CROSS JOIN LATERAL (VALUES (d.host, d.home),
                               (d.host, '00000000-0000-0000-0000-000000000000'::uuid),
                               ('00000000-0000-0000-0000-000000000000'::uuid, d.home)) sc(host, home)
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(d.s) <> 0;
    PERFORM analytics.apply_key_delta();
    DELETE FROM analytics_dv_delta;
END
$fn$;

CREATE FUNCTION analytics.daily_visits_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    IF NOT analytics.monthly_on() THEN
        RETURN NULL;
    END IF;
    IF to_regclass('pg_temp.analytics_dv_delta') IS NULL THEN
        CREATE TEMP TABLE analytics_dv_delta (s integer, host uuid, home uuid, day date,
            requested integer, approved integer, declined integer, confirmed integer,
            checked_in integer, completed integer, no_show integer, cancelled integer,
            visits integer, visitor_days integer, visitor_nights integer, guests integer,
            lead_0_1 integer, lead_2_7 integer, lead_8 integer, approve_secs integer[],
            member_keys text[]) ON COMMIT DELETE ROWS;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO analytics_dv_delta
        SELECT -1, host_club_id, home_club_id, day, requested, approved, declined, confirmed,
               checked_in, completed, no_show, cancelled, visits, visitor_days, visitor_nights,
               guests, lead_0_1, lead_2_7, lead_8, approve_secs, member_keys
        FROM old_rows;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO analytics_dv_delta
        SELECT 1, host_club_id, home_club_id, day, requested, approved, declined, confirmed,
               checked_in, completed, no_show, cancelled, visits, visitor_days, visitor_nights,
               guests, lead_0_1, lead_2_7, lead_8, approve_secs, member_keys
        FROM new_rows;
    END IF;
    PERFORM analytics.apply_visits_delta();
    RETURN NULL;
END
$fn$;
CREATE TRIGGER daily_visits_ins AFTER INSERT ON analytics.daily_visits
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics.daily_visits_changed();
CREATE TRIGGER daily_visits_upd AFTER UPDATE ON analytics.daily_visits
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics.daily_visits_changed();
CREATE TRIGGER daily_visits_del AFTER DELETE ON analytics.daily_visits
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics.daily_visits_changed();

-- daily_money, daily_usage, daily_rooms: the month's sums change by the rows' difference.
CREATE FUNCTION analytics.daily_money_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    IF NOT analytics.monthly_on() THEN
        RETURN NULL;
    END IF;
    IF to_regclass('pg_temp.analytics_dm_delta') IS NULL THEN
        CREATE TEMP TABLE analytics_dm_delta (s integer, host uuid, home uuid, day date,
            currency text, amount_minor bigint, charges integer) ON COMMIT DELETE ROWS;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO analytics_dm_delta SELECT -1, host_club_id, home_club_id, day, currency,
            amount_minor, charges FROM old_rows;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO analytics_dm_delta SELECT 1, host_club_id, home_club_id, day, currency,
            amount_minor, charges FROM new_rows;
    END IF;
    INSERT INTO analytics.monthly_money AS m
    SELECT host, home, date_trunc('month', day)::date, currency, sum(s), sum(s * amount_minor),
           sum(s * charges)
    FROM analytics_dm_delta GROUP BY 1, 2, 3, 4
    ON CONFLICT (host_club_id, home_club_id, month, currency) DO UPDATE SET
        days = m.days + EXCLUDED.days, amount_minor = m.amount_minor + EXCLUDED.amount_minor,
        charges = m.charges + EXCLUDED.charges;
    DELETE FROM analytics.monthly_money m USING (SELECT DISTINCT host, home, currency,
                                                 date_trunc('month', day)::date AS mo
                                                 FROM analytics_dm_delta) t
    WHERE m.host_club_id = t.host AND m.home_club_id = t.home AND m.month = t.mo
      AND m.currency = t.currency AND m.days = 0;
    DELETE FROM analytics_dm_delta;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER daily_money_ins AFTER INSERT ON analytics.daily_money
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics.daily_money_changed();
CREATE TRIGGER daily_money_upd AFTER UPDATE ON analytics.daily_money
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics.daily_money_changed();
CREATE TRIGGER daily_money_del AFTER DELETE ON analytics.daily_money
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics.daily_money_changed();

CREATE FUNCTION analytics.daily_usage_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    IF NOT analytics.monthly_on() THEN
        RETURN NULL;
    END IF;
    IF to_regclass('pg_temp.analytics_du_delta') IS NULL THEN
        CREATE TEMP TABLE analytics_du_delta (s integer, club uuid, day date, sign_ins integer,
            member_keys text[]) ON COMMIT DELETE ROWS;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO analytics_du_delta SELECT -1, club_id, day, sign_ins, member_keys
        FROM old_rows;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO analytics_du_delta SELECT 1, club_id, day, sign_ins, member_keys
        FROM new_rows;
    END IF;
    INSERT INTO analytics.monthly_usage AS m
    SELECT club, date_trunc('month', day)::date, sum(s), sum(s * sign_ins)
    FROM analytics_du_delta GROUP BY 1, 2
    ON CONFLICT (club_id, month) DO UPDATE SET days = m.days + EXCLUDED.days,
        sign_ins = m.sign_ins + EXCLUDED.sign_ins;
    DELETE FROM analytics.monthly_usage m USING (SELECT DISTINCT club,
                                                 date_trunc('month', day)::date AS mo
                                                 FROM analytics_du_delta) t
    WHERE m.club_id = t.club AND m.month = t.mo AND m.days = 0;
    PERFORM analytics.key_delta_table();
    INSERT INTO analytics_key_delta
    SELECT 'u', d.club, '00000000-0000-0000-0000-000000000000'::uuid, k,
           date_trunc('month', d.day)::date, sum(d.s)
    FROM analytics_du_delta d CROSS JOIN LATERAL unnest(d.member_keys) k
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(d.s) <> 0;
    PERFORM analytics.apply_key_delta();
    DELETE FROM analytics_du_delta;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER daily_usage_ins AFTER INSERT ON analytics.daily_usage
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics.daily_usage_changed();
CREATE TRIGGER daily_usage_upd AFTER UPDATE ON analytics.daily_usage
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics.daily_usage_changed();
CREATE TRIGGER daily_usage_del AFTER DELETE ON analytics.daily_usage
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics.daily_usage_changed();

CREATE FUNCTION analytics.daily_rooms_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    IF NOT analytics.monthly_on() THEN
        RETURN NULL;
    END IF;
    IF to_regclass('pg_temp.analytics_dr_delta') IS NULL THEN
        CREATE TEMP TABLE analytics_dr_delta (s integer, host uuid, home uuid, night date,
            rooms integer) ON COMMIT DELETE ROWS;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO analytics_dr_delta SELECT -1, host_club_id, home_club_id, night, rooms
        FROM old_rows;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO analytics_dr_delta SELECT 1, host_club_id, home_club_id, night, rooms
        FROM new_rows;
    END IF;
    INSERT INTO analytics.monthly_rooms AS m
    SELECT host, home, date_trunc('month', night)::date, sum(s), sum(s * rooms)
    FROM analytics_dr_delta GROUP BY 1, 2, 3
    ON CONFLICT (host_club_id, home_club_id, month) DO UPDATE SET days = m.days + EXCLUDED.days,
        rooms = m.rooms + EXCLUDED.rooms;
    DELETE FROM analytics.monthly_rooms m USING (SELECT DISTINCT host, home,
                                                 date_trunc('month', night)::date AS mo
                                                 FROM analytics_dr_delta) t
    WHERE m.host_club_id = t.host AND m.home_club_id = t.home AND m.month = t.mo AND m.days = 0;
    DELETE FROM analytics_dr_delta;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER daily_rooms_ins AFTER INSERT ON analytics.daily_rooms
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics.daily_rooms_changed();
CREATE TRIGGER daily_rooms_upd AFTER UPDATE ON analytics.daily_rooms
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics.daily_rooms_changed();
CREATE TRIGGER daily_rooms_del AFTER DELETE ON analytics.daily_rooms
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics.daily_rooms_changed();

-- The whole monthly level recomputed from the daily rollups (set-based; the incremental
-- triggers must give the same rows: tests/services/analytics test_rebuild_is_byte_identical).
CREATE FUNCTION analytics.rebuild_monthly() RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    DELETE FROM analytics.monthly_visits;
    INSERT INTO analytics.monthly_visits
    SELECT host_club_id, home_club_id, date_trunc('month', day)::date, count(*), sum(requested),
           sum(approved), sum(declined), sum(confirmed), sum(checked_in), sum(completed),
           sum(no_show), sum(cancelled), sum(visits), sum(visitor_days), sum(visitor_nights),
           sum(guests), sum(lead_0_1), sum(lead_2_7), sum(lead_8)
    FROM analytics.daily_visits GROUP BY 1, 2, 3;
    DELETE FROM analytics.monthly_money;
    INSERT INTO analytics.monthly_money
    SELECT host_club_id, home_club_id, date_trunc('month', day)::date, currency, count(*),
           sum(amount_minor), sum(charges)
    FROM analytics.daily_money GROUP BY 1, 2, 3, 4;
    DELETE FROM analytics.monthly_usage;
    INSERT INTO analytics.monthly_usage
    SELECT club_id, date_trunc('month', day)::date, count(*), sum(sign_ins)
    FROM analytics.daily_usage GROUP BY 1, 2;
    DELETE FROM analytics.monthly_rooms;
    INSERT INTO analytics.monthly_rooms
    SELECT host_club_id, home_club_id, date_trunc('month', night)::date, count(*), sum(rooms)
    FROM analytics.daily_rooms GROUP BY 1, 2, 3;
    DELETE FROM analytics.approve_months;
    INSERT INTO analytics.approve_months
    SELECT d.host_club_id, h.home, date_trunc('month', d.day)::date, x, count(*)
    FROM analytics.daily_visits d CROSS JOIN LATERAL unnest(d.approve_secs) x
    CROSS JOIN LATERAL (VALUES (d.home_club_id),
                               ('00000000-0000-0000-0000-000000000000'::uuid)) h(home)
    GROUP BY 1, 2, 3, 4;
    DELETE FROM analytics.approve_buckets;
    INSERT INTO analytics.approve_buckets
    SELECT host_club_id, home_club_id, month, floor(secs / 1024.0)::integer, sum(n)
    FROM analytics.approve_months GROUP BY 1, 2, 3, 4;
    DELETE FROM analytics.key_months;
    INSERT INTO analytics.key_months
    SELECT 'v', sc.host, sc.home, k, date_trunc('month', d.day)::date, count(*)
    FROM analytics.daily_visits d CROSS JOIN LATERAL unnest(d.member_keys) k
    CROSS JOIN LATERAL (VALUES (d.host_club_id, d.home_club_id),
                               (d.host_club_id, '00000000-0000-0000-0000-000000000000'::uuid),
                               ('00000000-0000-0000-0000-000000000000'::uuid, d.home_club_id))
        sc(host, home)
    GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO analytics.key_months
    SELECT 'u', d.club_id, '00000000-0000-0000-0000-000000000000'::uuid, k,
           date_trunc('month', d.day)::date, count(*)
    FROM analytics.daily_usage d CROSS JOIN LATERAL unnest(d.member_keys) k
    GROUP BY 1, 2, 3, 4, 5;
    DELETE FROM analytics.key_month_counts;
    INSERT INTO analytics.key_month_counts
    SELECT kind, host_club_id, home_club_id, month, prev, count(*)
    FROM (SELECT kind, host_club_id, home_club_id, month,
                 coalesce(lag(month) OVER (PARTITION BY kind, host_club_id, home_club_id,
                                           member_key ORDER BY month), '-infinity') AS prev
          FROM analytics.key_months) s
    GROUP BY 1, 2, 3, 4, 5;
END
$fn$;

-- The rebuild of every level: the daily rollups from the raw store (analytics.rebuild, the
-- monthly triggers off meanwhile), then the monthly level from them.
CREATE FUNCTION analytics.rebuild_all() RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    PERFORM set_config('analytics.monthly_off', 'on', true);
    PERFORM analytics.rebuild();
    PERFORM set_config('analytics.monthly_off', 'off', true);
    PERFORM analytics.rebuild_monthly();
END
$fn$;

-- The club report (reports.c; docs/analytics.md "Report speed: monthly rollups") as one
-- document: the range is resolved first (the club's time zone), then the report reads the
-- monthly level for whole months and the daily rows for the split months and edge days. A
-- plpgsql function so that the connection keeps the query's plan (a generic plan: the range
-- values are parameters, usable as index conditions) instead of planning ~100 CTE scans per
-- request. No JIT: the generic plan's cost estimates are high enough to compile the query on
-- every call (~2 s of LLVM on the loaded box), for a query that runs in milliseconds.
-- p_period: day, week, month or year (validated by the caller).
CREATE FUNCTION analytics.club_report(p_club uuid, p_from date, p_to date, p_period text,
                                      p_date date, p_partner uuid, p_top integer) RETURNS text
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_generic_plan
    SET jit = off
    AS $fn$
DECLARE
    v_tz text := coalesce((SELECT timezone FROM analytics.clubs WHERE club_id = p_club), 'UTC');
    v_a timestamp;
    v_f date;
    v_t date;
    v_lf date;
    v_lt date;
    v_yf date;
    v_tf date;
    v_lo date;
    v_wf date;
    v_we date;
    v_pt uuid := nullif(p_partner, p_club);
    v_nil uuid := '00000000-0000-0000-0000-000000000000';
    -- the partner scope of the monthly level: the partner, or nil = every partner (a plain
    -- parameter: an expression is not an index condition under row level security)
    v_ps uuid := coalesce(nullif(p_partner, p_club), '00000000-0000-0000-0000-000000000000');
BEGIN
    v_a := coalesce(p_date, (now() AT TIME ZONE v_tz)::date)::timestamp;
    v_f := coalesce(p_from, date_trunc(p_period, v_a)::date);
    v_t := coalesce(p_to, (date_trunc(p_period, v_a) + ('1 ' || p_period)::interval)::date - 1);
    v_lf := (v_f - interval '1 year')::date;
    v_lt := (v_t - interval '1 year')::date;
    v_yf := (date_trunc('month', v_t) - interval '11 months')::date;
    v_tf := (v_t - interval '1 year')::date + 1;
    v_lo := least(v_lf, (v_yf - interval '1 year')::date);
    v_wf := (date_trunc('month', v_f - 1) + interval '1 month')::date;
    v_we := date_trunc('month', v_t + 1)::date;
    RETURN (
    WITH z AS (SELECT v_tz AS tz),
    r AS (SELECT v_f AS f, v_t AS t, v_lf AS lf, v_lt AS lt, v_yf AS yf, v_tf AS tf),
    w AS (SELECT r.*, v_lo AS lo, v_wf AS wf, v_we AS we, v_pt AS pt, v_nil AS nil FROM r),
    sp AS (SELECT DISTINCT date_trunc('month', b)::date AS m FROM w, unnest(ARRAY[v_f, v_t + 1,
        v_lf, v_lt + 1, v_tf, v_lo]) b WHERE b <> date_trunc('month', b)),
    v AS (SELECT x.* FROM sp CROSS JOIN LATERAL (SELECT dv.host_club_id, dv.home_club_id, dv.day,
        requested, approved, declined, confirmed, checked_in, completed, no_show, cancelled,
        visits, visitor_days, visitor_nights, guests, lead_0_1, lead_2_7, lead_8 FROM
        analytics.daily_visits dv WHERE dv.day >= greatest(sp.m, v_lo) AND dv.day < (sp.m +
        interval '1 month')::date AND dv.day <= v_t AND (dv.host_club_id = p_club OR
        dv.home_club_id = p_club) AND (p_partner IS NULL OR dv.host_club_id = p_partner OR
        dv.home_club_id = p_partner) OFFSET 0) x UNION ALL SELECT mv.host_club_id,
        mv.home_club_id, mv.month, requested, approved, declined, confirmed, checked_in,
        completed, no_show, cancelled, visits, visitor_days, visitor_nights, guests, lead_0_1,
        lead_2_7, lead_8 FROM w, analytics.monthly_visits mv WHERE mv.month >= v_lo AND mv.month
        <= v_t AND mv.month NOT IN (SELECT m FROM sp) AND (mv.host_club_id = p_club OR
        mv.home_club_id = p_club) AND (p_partner IS NULL OR mv.host_club_id = p_partner OR
        mv.home_club_id = p_partner)),
    vr AS (SELECT v.* FROM v, r WHERE v.day BETWEEN v_f AND v_t),
    mo AS (SELECT x.* FROM sp CROSS JOIN LATERAL (SELECT dm.host_club_id, dm.home_club_id, dm.day,
        dm.currency, dm.amount_minor FROM analytics.daily_money dm WHERE dm.day >= greatest(sp.m,
        v_lf) AND dm.day < (sp.m + interval '1 month')::date AND dm.day <= v_t AND
        (dm.host_club_id = p_club OR dm.home_club_id = p_club) AND (p_partner IS NULL OR
        dm.host_club_id = p_partner OR dm.home_club_id = p_partner) OFFSET 0) x UNION ALL SELECT
        mm.host_club_id, mm.home_club_id, mm.month, mm.currency, mm.amount_minor FROM w,
        analytics.monthly_money mm WHERE mm.month >= v_lf AND mm.month <= v_t AND mm.month NOT IN
        (SELECT m FROM sp) AND (mm.host_club_id = p_club OR mm.home_club_id = p_club) AND
        (p_partner IS NULL OR mm.host_club_id = p_partner OR mm.home_club_id = p_partner)),
    mr AS (SELECT mo.* FROM mo, r WHERE mo.day BETWEEN v_f AND v_t),
    tin AS (SELECT coalesce(sum(requested), 0) AS requested, coalesce(sum(approved), 0) AS
        approved, coalesce(sum(declined), 0) AS declined, coalesce(sum(confirmed), 0) AS
        confirmed, coalesce(sum(checked_in), 0) AS checked_in, coalesce(sum(completed), 0) AS
        completed, coalesce(sum(no_show), 0) AS no_show, coalesce(sum(cancelled), 0) AS cancelled,
        coalesce(sum(visits), 0) AS visits, coalesce(sum(visitor_days), 0) AS visitor_days,
        coalesce(sum(visitor_nights), 0) AS visitor_nights, coalesce(sum(guests), 0) AS guests,
        coalesce(sum(lead_0_1), 0) AS l01, coalesce(sum(lead_2_7), 0) AS l27,
        coalesce(sum(lead_8), 0) AS l8 FROM vr WHERE host_club_id = p_club),
    tout AS (SELECT coalesce(sum(visits), 0) AS visits, coalesce(sum(visitor_days), 0) AS
        visitor_days, coalesce(sum(visitor_nights), 0) AS visitor_nights, coalesce(sum(guests), 0)
        AS guests, coalesce(sum(requested), 0) AS requested FROM vr WHERE home_club_id = p_club),
    ed AS (SELECT dv.host_club_id, dv.home_club_id, dv.member_keys, dv.approve_secs FROM w,
        analytics.daily_visits dv WHERE (v_f < v_wf OR v_we <= v_t) AND ((dv.day >= v_f AND dv.day
        < least(v_wf, v_t + 1)) OR (dv.day >= greatest(v_we, v_wf) AND dv.day <= v_t)) AND
        (dv.host_club_id = p_club OR dv.home_club_id = p_club) AND (p_partner IS NULL OR
        dv.host_club_id = p_partner OR dv.home_club_id = p_partner)),
    uin AS (SELECT (SELECT coalesce(sum(c.keys), 0) FROM analytics.key_month_counts c WHERE c.kind
        = 'v' AND c.host_club_id = p_club AND c.home_club_id = v_ps AND c.month
        >= v_wf AND c.month < v_we AND c.prev < v_wf) + (SELECT count(*) FROM (SELECT DISTINCT k
        FROM ed, unnest(ed.member_keys) k WHERE ed.host_club_id = p_club) e WHERE NOT EXISTS
        (SELECT 1 FROM analytics.key_months km WHERE km.kind = 'v' AND km.host_club_id = p_club
        AND km.home_club_id = v_ps AND km.member_key = e.k AND km.month >= v_wf
        AND km.month < v_we)) AS n FROM w),
    uout AS (SELECT (SELECT coalesce(sum(c.keys), 0) FROM analytics.key_month_counts c WHERE
        c.kind = 'v' AND c.host_club_id = v_ps AND c.home_club_id = p_club AND
        c.month >= v_wf AND c.month < v_we AND c.prev < v_wf) + (SELECT count(*) FROM (SELECT
        DISTINCT k FROM ed, unnest(ed.member_keys) k WHERE ed.home_club_id = p_club) e WHERE NOT
        EXISTS (SELECT 1 FROM analytics.key_months km WHERE km.kind = 'v' AND km.host_club_id =
        v_ps AND km.home_club_id = p_club AND km.member_key = e.k AND km.month >=
        v_wf AND km.month < v_we)) AS n FROM w),
    ea AS (SELECT s FROM ed, unnest(ed.approve_secs) s WHERE ed.host_club_id = p_club),
    hb AS (SELECT b, sum(n) AS n FROM (SELECT ab.bucket AS b, ab.n FROM w,
        analytics.approve_buckets ab WHERE ab.host_club_id = p_club AND ab.home_club_id =
        v_ps AND ab.month >= v_wf AND ab.month < v_we UNION ALL SELECT floor(s /
        1024.0)::integer, 1 FROM ea) x GROUP BY b),
    hk AS (SELECT b, n, (sum(n) OVER (ORDER BY b))::bigint AS cum, (sum(n) OVER ())::bigint AS tot
        FROM hb),
    pk AS (SELECT b, (tot + 1) / 2 - (cum - n) AS rk FROM hk WHERE cum >= (tot + 1) / 2 ORDER BY b
        LIMIT 1),
    fv AS (SELECT x.s, sum(x.n) AS n FROM (SELECT am.s, am.n FROM w, pk, generate_series(v_wf,
        v_we - 1, interval '1 month') g CROSS JOIN LATERAL (SELECT a.secs AS s, a.n FROM
        analytics.approve_months a WHERE a.host_club_id = p_club AND a.home_club_id =
        v_ps AND a.month = g::date AND a.secs >= pk.b * 1024 AND a.secs < pk.b *
        1024 + 1024 OFFSET 0) am UNION ALL SELECT ea.s, 1 FROM ea, pk WHERE floor(ea.s / 1024.0) =
        pk.b) x GROUP BY x.s),
    med AS (SELECT (SELECT y.s FROM (SELECT s, (sum(n) OVER (ORDER BY s))::bigint AS cum FROM fv)
        y, pk WHERE y.cum >= pk.rk ORDER BY y.s LIMIT 1) AS m),
    cur AS (SELECT jsonb_agg(jsonb_build_object('currency', currency, 'amount_minor', amt) ORDER
        BY currency) FILTER (WHERE side = 'h') AS rev, jsonb_agg(jsonb_build_object('currency',
        currency, 'amount_minor', amt) ORDER BY currency) FILTER (WHERE side = 'o') AS spend FROM
        (SELECT CASE WHEN host_club_id = p_club THEN 'h' ELSE 'o' END AS side, currency,
        sum(amount_minor) AS amt FROM mr GROUP BY 1, 2) s),
    pv AS (SELECT CASE WHEN host_club_id = p_club THEN home_club_id ELSE host_club_id END AS p,
        coalesce(sum(visits) FILTER (WHERE host_club_id = p_club), 0) AS vin, coalesce(sum(visits)
        FILTER (WHERE home_club_id = p_club), 0) AS vout FROM vr GROUP BY 1),
    pm AS (SELECT CASE WHEN host_club_id = p_club THEN home_club_id ELSE host_club_id END AS p,
        currency, coalesce(sum(amount_minor) FILTER (WHERE host_club_id = p_club), 0) AS rev,
        coalesce(sum(amount_minor) FILTER (WHERE home_club_id = p_club), 0) AS spend FROM mr GROUP
        BY 1, 2),
    pp AS (SELECT p FROM pv UNION SELECT p FROM pm),
    part AS (SELECT pp.p, coalesce(pv.vin, 0) AS vin, coalesce(pv.vout, 0) AS vout,
        coalesce((SELECT jsonb_agg(jsonb_build_object('currency', pm.currency, 'revenue_minor',
        pm.rev, 'spend_minor', pm.spend, 'net_minor', pm.rev - pm.spend) ORDER BY pm.currency)
        FROM pm WHERE pm.p = pp.p), '[]') AS money FROM pp LEFT JOIN pv ON pv.p = pp.p), trail AS
        (SELECT CASE WHEN host_club_id = p_club THEN home_club_id ELSE host_club_id END AS p,
        coalesce(sum(visits) FILTER (WHERE host_club_id = p_club), 0) AS vin, coalesce(sum(visits)
        FILTER (WHERE home_club_id = p_club), 0) AS vout, coalesce(sum(requested), 0) AS req FROM
        v, r WHERE v.day BETWEEN v_tf AND v_t GROUP BY 1),
    mon AS (SELECT g::date AS m FROM r, generate_series(v_yf, v_t, interval '1 month') g),
    vm AS (SELECT date_trunc('month', day)::date AS m, coalesce(sum(visits) FILTER (WHERE
        host_club_id = p_club), 0) AS vin, coalesce(sum(visits) FILTER (WHERE home_club_id =
        p_club), 0) AS vout FROM v GROUP BY 1),
    seas AS (SELECT jsonb_agg(jsonb_build_object('month', to_char(mon.m, 'YYYY-MM'), 'visits_in',
        coalesce(a.vin, 0), 'visits_out', coalesce(a.vout, 0), 'last_year_in', coalesce(b.vin, 0),
        'last_year_out', coalesce(b.vout, 0)) ORDER BY mon.m) AS j FROM mon LEFT JOIN vm a ON a.m
        = mon.m LEFT JOIN vm b ON b.m = (mon.m - interval '1 year')::date),
    ly AS (SELECT coalesce(sum(visits) FILTER (WHERE host_club_id = p_club), 0) AS vin,
        coalesce(sum(visits) FILTER (WHERE home_club_id = p_club), 0) AS vout,
        coalesce(sum(requested) FILTER (WHERE host_club_id = p_club), 0) AS req FROM v, r WHERE
        v.day BETWEEN v_lf AND v_lt),
    lym AS (SELECT jsonb_agg(jsonb_build_object('currency', currency, 'revenue_minor', rev,
        'spend_minor', spend) ORDER BY currency) AS j FROM (SELECT currency,
        coalesce(sum(amount_minor) FILTER (WHERE host_club_id = p_club), 0) AS rev,
        coalesce(sum(amount_minor) FILTER (WHERE home_club_id = p_club), 0) AS spend FROM mo, r
        WHERE mo.day BETWEEN v_lf AND v_lt GROUP BY 1) s),
    us AS (SELECT (SELECT coalesce(sum(u.sign_ins), 0) FROM analytics.daily_usage u WHERE
        u.club_id = p_club AND (v_f < v_wf OR v_we <= v_t) AND ((u.day >= v_f AND u.day <
        least(v_wf, v_t + 1)) OR (u.day >= greatest(v_we, v_wf) AND u.day <= v_t))) + (SELECT
        coalesce(sum(mu.sign_ins), 0) FROM analytics.monthly_usage mu WHERE mu.club_id = p_club
        AND mu.month >= v_wf AND mu.month < v_we) AS sign_ins, (SELECT coalesce(sum(c.keys), 0)
        FROM analytics.key_month_counts c WHERE c.kind = 'u' AND c.host_club_id = p_club AND
        c.home_club_id = v_nil AND c.month >= v_wf AND c.month < v_we AND c.prev < v_wf) + (SELECT
        count(*) FROM (SELECT DISTINCT k FROM analytics.daily_usage u, unnest(u.member_keys) k
        WHERE u.club_id = p_club AND (v_f < v_wf OR v_we <= v_t) AND ((u.day >= v_f AND u.day <
        least(v_wf, v_t + 1)) OR (u.day >= greatest(v_we, v_wf) AND u.day <= v_t))) e WHERE NOT
        EXISTS (SELECT 1 FROM analytics.key_months km WHERE km.kind = 'u' AND km.host_club_id =
        p_club AND km.home_club_id = v_nil AND km.member_key = e.k AND km.month >= v_wf AND
        km.month < v_we)) AS active FROM w),
    rm AS (SELECT (SELECT rooms FROM analytics.capacity WHERE club_id = p_club) AS cap, (SELECT
        coalesce(sum(dr.rooms), 0) FROM analytics.daily_rooms dr WHERE dr.host_club_id = p_club
        AND (v_f < v_wf OR v_we <= v_t) AND ((dr.night >= v_f AND dr.night < least(v_wf, v_t + 1))
        OR (dr.night >= greatest(v_we, v_wf) AND dr.night <= v_t)) AND (p_partner IS NULL OR
        dr.home_club_id = p_partner)) + (SELECT coalesce(sum(mn.rooms), 0) FROM
        analytics.monthly_rooms mn WHERE mn.host_club_id = p_club AND mn.month >= v_wf AND
        mn.month < v_we AND (p_partner IS NULL OR mn.home_club_id = p_partner)) AS used, v_t - v_f
        + 1 AS nights FROM w) SELECT jsonb_build_object('club_id', p_club, 'timezone', v_tz,
        'from', v_f, 'to', v_t, 'partner', p_partner, 'visits_in', tin.visits, 'visits_out',
        tout.visits, 'unique_visitors_in', uin.n, 'unique_visitors_out', uout.n,
        'visitor_days_in', tin.visitor_days, 'visitor_nights_in', tin.visitor_nights,
        'visitor_days_out', tout.visitor_days, 'visitor_nights_out', tout.visitor_nights,
        'guests_in', tin.guests, 'guests_out', tout.guests, 'requests_in', tin.requested,
        'requests_out', tout.requested, 'statuses_in', jsonb_build_object('approved',
        tin.approved, 'declined', tin.declined, 'confirmed', tin.confirmed, 'checked_in',
        tin.checked_in, 'completed', tin.completed, 'no_show', tin.no_show, 'cancelled',
        tin.cancelled), 'no_show_rate', round(tin.no_show::numeric / nullif(tin.confirmed +
        tin.checked_in + tin.completed + tin.no_show, 0), 4), 'cancellation_rate',
        round(tin.cancelled::numeric / nullif(tin.requested, 0), 4), 'loi_approval_rate',
        round(tin.approved::numeric / nullif(tin.approved + tin.declined, 0), 4),
        'median_approve_seconds', med.m, 'lead_time', jsonb_build_object('0-1', tin.l01, '2-7',
        tin.l27, '8+', tin.l8), 'revenue', coalesce(cur.rev, '[]'), 'spend_abroad',
        coalesce(cur.spend, '[]'), 'partners', coalesce((SELECT
        jsonb_agg(jsonb_build_object('partner_club_id', p, 'visits_in', vin, 'visits_out', vout,
        'net_visits', vin - vout, 'money', money) ORDER BY p) FROM part), '[]'), 'top_by_visits',
        coalesce((SELECT jsonb_agg(jsonb_build_object('partner_club_id', p, 'visits', vin + vout)
        ORDER BY vin + vout DESC, p) FROM (SELECT * FROM part WHERE vin + vout > 0 ORDER BY vin +
        vout DESC, p LIMIT p_top) s), '[]'), 'top_by_revenue', coalesce((SELECT
        jsonb_agg(jsonb_build_object('partner_club_id', p, 'currency', currency, 'revenue_minor',
        rev) ORDER BY rev DESC, currency, p) FROM (SELECT * FROM pm WHERE rev > 0 ORDER BY rev
        DESC, currency, p LIMIT p_top) s), '[]'), 'seasonality', coalesce(seas.j, '[]'),
        'same_period_last_year', jsonb_build_object('from', v_lf, 'to', v_lt, 'visits_in', ly.vin,
        'visits_out', ly.vout, 'requests_in', ly.req, 'money', coalesce(lym.j, '[]')), 'usage',
        jsonb_build_object('sign_ins', us.sign_ins, 'active_members', us.active), 'rooms',
        jsonb_build_object('capacity', rm.cap, 'room_nights', rm.used, 'available_room_nights',
        rm.cap * rm.nights, 'utilisation', round(rm.used::numeric / nullif(rm.cap * rm.nights, 0),
        4)), 'trailing', coalesce((SELECT jsonb_agg(jsonb_build_object('partner_club_id', p,
        'visits_in', vin, 'visits_out', vout, 'requests', req) ORDER BY p) FROM trail), '[]'),
        'trailing_from', v_tf)::text FROM z, r, tin, tout, uin, uout, med, cur, seas, ly, lym, us,
        rm
    );
END
$fn$;

-- The rows already in the daily rollups.
SELECT analytics.rebuild_monthly();
