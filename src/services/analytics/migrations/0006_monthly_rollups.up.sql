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

-- The rows already in the daily rollups.
SELECT analytics.rebuild_monthly();
