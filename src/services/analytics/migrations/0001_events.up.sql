-- analytics: reciprocity figures built from other services' events only (docs/analytics.md).
-- No table of another service is read. Members appear only as member_key, an HMAC-SHA-256 of
-- (club id, member or user id) under RECIPROCAL_ANALYTICS_KEY (pseudonymous, per club, for
-- unique-visitor counts); no name, email, member number or free text is stored.
--   raw_events   every applied event's facts, partitioned by month of occurred_at (native
--                declarative partitioning, BRIN on time); partitions older than
--                RECIPROCAL_ANALYTICS_RETENTION_DAYS are dropped by the retention job.
--   clubs        the club dimension (time zone, name) from club.* events.
--   members      the member dimension (category per member key) from member.* events.
--   visits       one row per visit, recomputed from raw_events (analytics.refresh_visits).
--   daily_visits, daily_money, daily_usage   the rollups, kept forever, each row a pure function
--                of visits / raw_events, recomputed per touched day (analytics.ingest) or in
--                full (analytics.rebuild).
-- Writers: the consumers (relay scope, core.is_relay()). Readers: a club its own rows and the
-- rows it shares with a partner (host or home side); network administrators every row.
CREATE SCHEMA analytics;
GRANT USAGE ON SCHEMA analytics TO reciprocal_app;

CREATE TABLE analytics.raw_events (
    occurred_at  timestamptz NOT NULL,
    event_id     uuid NOT NULL,
    type         text NOT NULL,
    club_id      uuid,                 -- the event's tenant
    host_club_id uuid,
    home_club_id uuid,
    visit_id     uuid,
    member_key   text CHECK (member_key ~ '^[0-9a-f]{64}$'),
    day          date,                 -- the event's local day (charges, sign-ins), else NULL
    facts        jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (occurred_at, event_id)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX raw_events_time_brin ON analytics.raw_events USING brin (occurred_at);
CREATE INDEX raw_events_visit_idx ON analytics.raw_events (visit_id) WHERE visit_id IS NOT NULL;
CREATE INDEX raw_events_pair_day_idx ON analytics.raw_events (host_club_id, home_club_id, day)
    WHERE day IS NOT NULL;
CREATE INDEX raw_events_club_day_idx ON analytics.raw_events (club_id, day) WHERE day IS NOT NULL;
ALTER TABLE analytics.raw_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.raw_events FORCE ROW LEVEL SECURITY;
CREATE POLICY raw_events_relay ON analytics.raw_events
    USING (core.is_relay()) WITH CHECK (core.is_relay());
GRANT SELECT, INSERT ON analytics.raw_events TO reciprocal_app;

CREATE TABLE analytics.clubs (
    club_id    uuid PRIMARY KEY,
    timezone   text NOT NULL DEFAULT 'UTC',
    name       text,
    updated_at timestamptz NOT NULL
);
CREATE TABLE analytics.members (
    club_id    uuid NOT NULL,
    member_key text NOT NULL,
    category   text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (club_id, member_key)
);
CREATE TABLE analytics.visits (
    visit_id     uuid PRIMARY KEY,
    host_club_id uuid NOT NULL,
    home_club_id uuid NOT NULL,
    member_key   text,
    category     text NOT NULL DEFAULT '',
    facility     text NOT NULL DEFAULT '',
    arrive_on    date NOT NULL,
    depart_on    date NOT NULL,
    guests       integer NOT NULL DEFAULT 0,
    status       text NOT NULL,
    requested_at timestamptz,
    approved_at  timestamptz,
    lead_days    integer
);
CREATE INDEX visits_member_idx ON analytics.visits (home_club_id, member_key);
CREATE INDEX visits_day_idx ON analytics.visits (host_club_id, home_club_id, arrive_on);

CREATE TABLE analytics.daily_visits (
    host_club_id uuid NOT NULL,
    home_club_id uuid NOT NULL,
    day          date NOT NULL,
    facility     text NOT NULL,
    category     text NOT NULL,
    requested    integer NOT NULL,
    approved     integer NOT NULL,   -- an LOI was issued
    declined     integer NOT NULL,
    confirmed    integer NOT NULL,
    checked_in   integer NOT NULL,
    completed    integer NOT NULL,
    no_show      integer NOT NULL,
    cancelled    integer NOT NULL,
    visits       integer NOT NULL,   -- checked_in + completed
    visitor_days   integer NOT NULL,
    visitor_nights integer NOT NULL,
    guests       integer NOT NULL,
    lead_0_1     integer NOT NULL,
    lead_2_7     integer NOT NULL,
    lead_8       integer NOT NULL,
    approve_secs integer[] NOT NULL, -- request -> LOI, sorted (median over any range)
    member_keys  text[] NOT NULL,    -- distinct visitors (checked in or completed), sorted
    PRIMARY KEY (host_club_id, home_club_id, day, facility, category)
);
CREATE TABLE analytics.daily_money (
    host_club_id uuid NOT NULL,
    home_club_id uuid NOT NULL,
    day          date NOT NULL,
    facility     text NOT NULL,      -- the charge's category (dining, room, ...)
    category     text NOT NULL,      -- the member's category
    currency     text NOT NULL,
    amount_minor bigint NOT NULL,
    charges      integer NOT NULL,
    PRIMARY KEY (host_club_id, home_club_id, day, facility, category, currency)
);
CREATE TABLE analytics.daily_usage (
    club_id     uuid NOT NULL,
    day         date NOT NULL,
    sign_ins    integer NOT NULL,
    member_keys text[] NOT NULL,     -- distinct accounts that signed in, sorted
    PRIMARY KEY (club_id, day)
);

-- RLS: the consumers (relay) write; a club reads its own rows and its pairwise rows; network
-- administrators read all. The dimensions are read by the same rule.
ALTER TABLE analytics.clubs ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.clubs FORCE ROW LEVEL SECURITY;
CREATE POLICY clubs_relay ON analytics.clubs USING (core.is_relay()) WITH CHECK (core.is_relay());
CREATE POLICY clubs_read ON analytics.clubs FOR SELECT USING (true);
ALTER TABLE analytics.members ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.members FORCE ROW LEVEL SECURITY;
CREATE POLICY members_relay ON analytics.members
    USING (core.is_relay()) WITH CHECK (core.is_relay());
ALTER TABLE analytics.visits ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.visits FORCE ROW LEVEL SECURITY;
CREATE POLICY visits_relay ON analytics.visits USING (core.is_relay()) WITH CHECK (core.is_relay());
ALTER TABLE analytics.daily_visits ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.daily_visits FORCE ROW LEVEL SECURITY;
CREATE POLICY daily_visits_relay ON analytics.daily_visits
    USING (core.is_relay()) WITH CHECK (core.is_relay());
CREATE POLICY daily_visits_read ON analytics.daily_visits FOR SELECT
    USING (host_club_id = core.current_club() OR home_club_id = core.current_club()
           OR core.is_network_admin());
ALTER TABLE analytics.daily_money ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.daily_money FORCE ROW LEVEL SECURITY;
CREATE POLICY daily_money_relay ON analytics.daily_money
    USING (core.is_relay()) WITH CHECK (core.is_relay());
CREATE POLICY daily_money_read ON analytics.daily_money FOR SELECT
    USING (host_club_id = core.current_club() OR home_club_id = core.current_club()
           OR core.is_network_admin());
ALTER TABLE analytics.daily_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.daily_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY daily_usage_relay ON analytics.daily_usage
    USING (core.is_relay()) WITH CHECK (core.is_relay());
CREATE POLICY daily_usage_read ON analytics.daily_usage FOR SELECT
    USING (club_id = core.current_club() OR core.is_network_admin());
GRANT SELECT, INSERT, UPDATE ON analytics.clubs, analytics.members TO reciprocal_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON analytics.visits, analytics.daily_visits,
    analytics.daily_money, analytics.daily_usage TO reciprocal_app;

-- The month partition holding day m (created by its owner: the app role has no CREATE).
CREATE FUNCTION analytics.ensure_month(m date) RETURNS void
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

-- Drops the month partitions that end on or before `before` (UTC); returns how many.
CREATE FUNCTION analytics.drop_months_before(before timestamptz) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    p record;
    n integer := 0;
BEGIN
    FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'analytics.raw_events'::regclass
               AND c.relname ~ '^raw_events_[0-9]{6}$' ORDER BY c.relname LOOP
        IF (to_date(substr(p.relname, 12), 'YYYYMM') + interval '1 month')::timestamp
               AT TIME ZONE 'UTC' <= before THEN
            EXECUTE format('DROP TABLE analytics.%I', p.relname);
            n := n + 1;
        END IF;
    END LOOP;
    RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION analytics.ensure_month(date), analytics.drop_months_before(timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analytics.ensure_month(date), analytics.drop_months_before(timestamptz)
    TO reciprocal_app;

-- Recomputes the rows of visits vids from raw_events: attributes from the earliest event that
-- carries them, status from the latest event with a status (ties: event id), approval from the
-- first loi.issued, category from the member dimension. A visit whose raw events are gone
-- (retention) keeps its row.
CREATE FUNCTION analytics.refresh_visits(vids uuid[]) RETURNS void
    LANGUAGE sql
    AS $fn$
    INSERT INTO analytics.visits AS v (visit_id, host_club_id, home_club_id, member_key, category,
        facility, arrive_on, depart_on, guests, status, requested_at, approved_at, lead_days)
    SELECT a.visit_id, a.host_club_id, a.home_club_id, a.member_key,
           coalesce(m.category, ''), coalesce(a.facts->>'facility', ''),
           (a.facts->>'arrive_on')::date, (a.facts->>'depart_on')::date,
           coalesce((a.facts->>'guests')::integer, 0), s.status, a.req, l.at,
           (a.facts->>'arrive_on')::date
             - (a.req AT TIME ZONE coalesce(a.facts->>'timezone', c.timezone, 'UTC'))::date
    FROM (SELECT DISTINCT ON (r.visit_id) r.visit_id, r.host_club_id, r.home_club_id,
                 r.member_key, r.facts,
                 coalesce((r.facts->>'requested_at')::timestamptz, r.occurred_at) AS req
          FROM analytics.raw_events r
          WHERE r.visit_id = ANY (vids) AND r.facts ? 'arrive_on'
          ORDER BY r.visit_id, r.occurred_at, r.event_id) a
    -- an aggregate, not ORDER BY .. LIMIT 1: the latter lets the planner walk the time index of
    -- every partition instead of the visit's few rows
    JOIN LATERAL (SELECT (array_agg(r.facts->>'status' ORDER BY r.occurred_at DESC,
                                    r.event_id DESC))[1] AS status
                  FROM analytics.raw_events r
                  WHERE r.visit_id = a.visit_id AND r.facts ? 'status') s ON s.status IS NOT NULL
    LEFT JOIN LATERAL (SELECT min(r.occurred_at) AS at FROM analytics.raw_events r
                       WHERE r.visit_id = a.visit_id AND r.type = 'loi.issued') l ON true
    LEFT JOIN analytics.members m
           ON m.club_id = a.home_club_id AND m.member_key = a.member_key
    LEFT JOIN analytics.clubs c ON c.club_id = a.host_club_id
    ON CONFLICT (visit_id) DO UPDATE SET host_club_id = EXCLUDED.host_club_id,
        home_club_id = EXCLUDED.home_club_id, member_key = EXCLUDED.member_key,
        category = EXCLUDED.category, facility = EXCLUDED.facility,
        arrive_on = EXCLUDED.arrive_on, depart_on = EXCLUDED.depart_on,
        guests = EXCLUDED.guests, status = EXCLUDED.status,
        requested_at = EXCLUDED.requested_at, approved_at = EXCLUDED.approved_at,
        lead_days = EXCLUDED.lead_days
$fn$;

-- The daily_visits rows of every (host, home, day) in days (a JSON array of [host, home, day]),
-- recomputed from visits in two statements (set-based: one plan per batch, not per day).
CREATE FUNCTION analytics.recompute_visit_days(days jsonb) RETURNS void
    LANGUAGE sql
    AS $fn$
    DELETE FROM analytics.daily_visits dv
    USING (SELECT DISTINCT (t->>0)::uuid AS host, (t->>1)::uuid AS home, (t->>2)::date AS d
           FROM jsonb_array_elements(days) t) k
    WHERE dv.host_club_id = k.host AND dv.home_club_id = k.home AND dv.day = k.d;
    INSERT INTO analytics.daily_visits
    SELECT v.host_club_id, v.home_club_id, v.arrive_on, v.facility, v.category,
           count(*),
           count(*) FILTER (WHERE v.approved_at IS NOT NULL),
           count(*) FILTER (WHERE v.status = 'declined'),
           count(*) FILTER (WHERE v.status = 'confirmed'),
           count(*) FILTER (WHERE v.status = 'checked_in'),
           count(*) FILTER (WHERE v.status = 'completed'),
           count(*) FILTER (WHERE v.status = 'no_show'),
           count(*) FILTER (WHERE v.status = 'cancelled'),
           count(*) FILTER (WHERE v.status IN ('checked_in', 'completed')),
           coalesce(sum(v.depart_on - v.arrive_on + 1)
                    FILTER (WHERE v.status IN ('checked_in', 'completed')), 0),
           coalesce(sum(v.depart_on - v.arrive_on)
                    FILTER (WHERE v.status IN ('checked_in', 'completed')), 0),
           coalesce(sum(v.guests) FILTER (WHERE v.status IN ('checked_in', 'completed')), 0),
           count(*) FILTER (WHERE v.lead_days <= 1),
           count(*) FILTER (WHERE v.lead_days BETWEEN 2 AND 7),
           count(*) FILTER (WHERE v.lead_days >= 8),
           coalesce(array_agg(extract(epoch FROM v.approved_at - v.requested_at)::integer
                              ORDER BY extract(epoch FROM v.approved_at - v.requested_at))
                    FILTER (WHERE v.approved_at IS NOT NULL AND v.requested_at IS NOT NULL),
                    '{}'),
           coalesce((SELECT array_agg(DISTINCT k ORDER BY k) FROM unnest(
                        array_agg(v.member_key) FILTER (WHERE v.member_key IS NOT NULL
                            AND v.status IN ('checked_in', 'completed'))) k), '{}')
    FROM analytics.visits v
    JOIN (SELECT DISTINCT (t->>0)::uuid AS host, (t->>1)::uuid AS home, (t->>2)::date AS d
          FROM jsonb_array_elements(days) t) k
      ON v.host_club_id = k.host AND v.home_club_id = k.home AND v.arrive_on = k.d
    GROUP BY v.host_club_id, v.home_club_id, v.arrive_on, v.facility, v.category
$fn$;

-- One (host, home, day): recompute_visit_days of that day.
CREATE FUNCTION analytics.recompute_visit_day(host uuid, home uuid, d date) RETURNS void
    LANGUAGE sql
    AS $fn$
    SELECT analytics.recompute_visit_days(jsonb_build_array(jsonb_build_array(host, home, d)))
$fn$;

-- The daily_money rows of (host, home, day), recomputed from the charge events in raw_events.
CREATE FUNCTION analytics.recompute_money_day(host uuid, home uuid, d date) RETURNS void
    LANGUAGE sql
    AS $fn$
    DELETE FROM analytics.daily_money
    WHERE host_club_id = host AND home_club_id = home AND day = d;
    INSERT INTO analytics.daily_money
    SELECT host, home, d, coalesce(r.facts->>'facility', ''), coalesce(v.category, ''),
           r.facts->>'currency', sum((r.facts->>'amount')::bigint), count(*)
    FROM analytics.raw_events r
    LEFT JOIN analytics.visits v ON v.visit_id = r.visit_id
    WHERE r.host_club_id = host AND r.home_club_id = home AND r.day = d
      AND r.type IN ('charge.posted', 'charge.reversed')
    GROUP BY 4, 5, 6
$fn$;

-- The daily_usage row of (club, day), recomputed from the sign-in events in raw_events.
CREATE FUNCTION analytics.recompute_usage_day(club uuid, d date) RETURNS void
    LANGUAGE sql
    AS $fn$
    DELETE FROM analytics.daily_usage WHERE club_id = club AND day = d;
    INSERT INTO analytics.daily_usage
    SELECT club, d, count(*),
           coalesce(array_agg(DISTINCT r.member_key ORDER BY r.member_key)
                    FILTER (WHERE r.member_key IS NOT NULL), '{}')
    FROM analytics.raw_events r
    WHERE r.club_id = club AND r.day = d AND r.type = 'auth.user_logged_in'
    HAVING count(*) > 0
$fn$;

-- Applies a batch of facts (a JSON array of {id, at, type, club, host, home, visit,
-- member_key, tz or day, facts}, built by ingest.c): raw rows (a duplicate id is skipped), the
-- dimensions, the touched visits and exactly the touched days of each rollup. Returns the
-- number of new raw rows.
CREATE FUNCTION analytics.ingest(batch jsonb) RETURNS integer
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    n integer;
    vids uuid[];
BEGIN
    -- the local day of a fact that names its time zone (charges: the host's, sign-ins: the club's)
    SELECT coalesce(jsonb_agg(CASE WHEN x ? 'tz' AND NOT x ? 'day'
                                   THEN x || jsonb_build_object('day',
                                       ((x->>'at')::timestamptz AT TIME ZONE (x->>'tz'))::date)
                                   ELSE x END), '[]')
    INTO batch FROM jsonb_array_elements(batch) x;
    PERFORM analytics.ensure_month(m)
    FROM (SELECT DISTINCT date_trunc('month', (x->>'at')::timestamptz AT TIME ZONE 'UTC')::date m
          FROM jsonb_array_elements(batch) x) s;
    INSERT INTO analytics.raw_events (occurred_at, event_id, type, club_id, host_club_id,
        home_club_id, visit_id, member_key, day, facts)
    SELECT (x->>'at')::timestamptz, (x->>'id')::uuid, x->>'type', (x->>'club')::uuid,
           (x->>'host')::uuid, (x->>'home')::uuid, (x->>'visit')::uuid, x->>'member_key',
           (x->>'day')::date, coalesce(x->'facts', '{}')
    FROM jsonb_array_elements(batch) x
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    -- dimensions (the newest event wins)
    INSERT INTO analytics.clubs AS c (club_id, timezone, name, updated_at)
    SELECT DISTINCT ON ((x->>'club')::uuid) (x->>'club')::uuid,
           coalesce(x->'facts'->>'timezone', 'UTC'), x->'facts'->>'name', (x->>'at')::timestamptz
    FROM jsonb_array_elements(batch) x
    WHERE x->>'type' IN ('club.created', 'club.updated') AND x->'facts' ? 'timezone'
    ORDER BY (x->>'club')::uuid, (x->>'at')::timestamptz DESC
    ON CONFLICT (club_id) DO UPDATE SET timezone = EXCLUDED.timezone, name = EXCLUDED.name,
        updated_at = EXCLUDED.updated_at WHERE c.updated_at <= EXCLUDED.updated_at;
    INSERT INTO analytics.members AS m (club_id, member_key, category, updated_at)
    SELECT DISTINCT ON ((x->>'club')::uuid, x->>'member_key') (x->>'club')::uuid,
           x->>'member_key', x->'facts'->>'category', (x->>'at')::timestamptz
    FROM jsonb_array_elements(batch) x
    WHERE x->>'type' LIKE 'member.%' AND x->>'member_key' IS NOT NULL
      AND x->'facts' ? 'category'
    ORDER BY (x->>'club')::uuid, x->>'member_key', (x->>'at')::timestamptz DESC
    ON CONFLICT (club_id, member_key) DO UPDATE SET category = EXCLUDED.category,
        updated_at = EXCLUDED.updated_at WHERE m.updated_at <= EXCLUDED.updated_at;
    -- visits: the batch's and those of members whose category came in (looked up only when
    -- the batch has member events: an index probe per member)
    SELECT array_agg(DISTINCT (x->>'visit')::uuid) INTO vids FROM jsonb_array_elements(batch) x
    WHERE x->>'visit' IS NOT NULL AND (x->>'type' LIKE 'visit.%' OR x->>'type' LIKE 'loi.%');
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(batch) x
               WHERE x->>'type' LIKE 'member.%' AND x->>'member_key' IS NOT NULL) THEN
        SELECT array_agg(DISTINCT id) INTO vids FROM (
            SELECT unnest(coalesce(vids, '{}')) id
            UNION ALL
            SELECT v.visit_id FROM jsonb_array_elements(batch) x
            CROSS JOIN LATERAL (SELECT visit_id FROM analytics.visits
                                WHERE home_club_id = (x->>'club')::uuid
                                  AND member_key = x->>'member_key') v
            WHERE x->>'type' LIKE 'member.%' AND x->>'member_key' IS NOT NULL) s;
    END IF;
    IF vids IS NOT NULL THEN
        IF to_regclass('pg_temp.analytics_days') IS NULL THEN
            CREATE TEMP TABLE analytics_days (host uuid, home uuid, d date) ON COMMIT DELETE ROWS;
        END IF;
        INSERT INTO analytics_days SELECT host_club_id, home_club_id, arrive_on
            FROM analytics.visits WHERE visit_id = ANY (vids);
        PERFORM analytics.refresh_visits(vids);
        INSERT INTO analytics_days SELECT host_club_id, home_club_id, arrive_on
            FROM analytics.visits WHERE visit_id = ANY (vids);
        PERFORM analytics.recompute_visit_days(
            (SELECT jsonb_agg(DISTINCT jsonb_build_array(host, home, d)) FROM analytics_days
             WHERE d IS NOT NULL));
        DELETE FROM analytics_days;
        -- the charges of those visits carry the visit's member category
        PERFORM analytics.recompute_money_day(host, home, d)
        FROM (SELECT DISTINCT host_club_id host, home_club_id home, day d
              FROM analytics.raw_events
              WHERE visit_id = ANY (vids) AND type IN ('charge.posted', 'charge.reversed')
                AND day IS NOT NULL AND host_club_id IS NOT NULL
                AND home_club_id IS NOT NULL) s;
    END IF;
    PERFORM analytics.recompute_money_day(host, home, d)
    FROM (SELECT DISTINCT (x->>'host')::uuid host, (x->>'home')::uuid home, (x->>'day')::date d
          FROM jsonb_array_elements(batch) x
          WHERE x->>'type' IN ('charge.posted', 'charge.reversed') AND x->>'day' IS NOT NULL
            AND x->>'host' IS NOT NULL AND x->>'home' IS NOT NULL) s;
    PERFORM analytics.recompute_usage_day(club, d)
    FROM (SELECT DISTINCT (x->>'club')::uuid club, (x->>'day')::date d
          FROM jsonb_array_elements(batch) x
          WHERE x->>'type' = 'auth.user_logged_in' AND x->>'day' IS NOT NULL
            AND x->>'club' IS NOT NULL) s;
    RETURN n;
END
$fn$;

-- Rebuilds every visit still in raw_events and every rollup from visits and raw_events: the
-- result equals what the incremental path produced (tests/services/analytics: byte-identical).
-- Rows of days whose raw events are gone (retention) are kept.
CREATE FUNCTION analytics.rebuild() RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    PERFORM analytics.refresh_visits(array_agg(DISTINCT visit_id))
    FROM analytics.raw_events WHERE visit_id IS NOT NULL;
    DELETE FROM analytics.daily_visits;
    PERFORM analytics.recompute_visit_days(
        (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_array(host_club_id, home_club_id,
                                                              arrive_on)), '[]')
         FROM analytics.visits));
    DELETE FROM analytics.daily_money m USING (SELECT DISTINCT host_club_id, home_club_id, day
        FROM analytics.raw_events WHERE day IS NOT NULL) r
    WHERE m.host_club_id = r.host_club_id AND m.home_club_id = r.home_club_id AND m.day = r.day;
    PERFORM analytics.recompute_money_day(host_club_id, home_club_id, day)
    FROM (SELECT DISTINCT host_club_id, home_club_id, day FROM analytics.raw_events
          WHERE type IN ('charge.posted', 'charge.reversed') AND day IS NOT NULL
            AND host_club_id IS NOT NULL AND home_club_id IS NOT NULL) s;
    DELETE FROM analytics.daily_usage u USING (SELECT DISTINCT club_id, day
        FROM analytics.raw_events WHERE type = 'auth.user_logged_in' AND day IS NOT NULL) r
    WHERE u.club_id = r.club_id AND u.day = r.day;
    PERFORM analytics.recompute_usage_day(club_id, day)
    FROM (SELECT DISTINCT club_id, day FROM analytics.raw_events
          WHERE type = 'auth.user_logged_in' AND day IS NOT NULL AND club_id IS NOT NULL) s;
END
$fn$;

SELECT core.create_outbox('analytics');
SELECT core.create_dead_letter('analytics');
