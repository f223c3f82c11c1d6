-- analytics 0005 down: the ingest and refresh_visits of 0004, the rebuild of 0003 and 0001's recompute_visit_days
-- (DELETE ... USING the day list), then the keyed functions and the fact type dropped.
CREATE OR REPLACE FUNCTION analytics.recompute_visit_days(days jsonb) RETURNS void
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

CREATE OR REPLACE FUNCTION analytics.ingest(batch jsonb) RETURNS integer
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    n integer;
    vids uuid[];
BEGIN
    -- the local day of a fact that names its time zone (charges: the host's, sign-ins: the club's)
    -- (only when the batch has such a fact: rebuilding the batch costs as much as the insert)
    IF jsonb_path_exists(batch, '$[*] ? (exists(@.tz))') THEN
        SELECT coalesce(jsonb_agg(CASE WHEN x ? 'tz' AND NOT x ? 'day'
                                       THEN x || jsonb_build_object('day',
                                           ((x->>'at')::timestamptz AT TIME ZONE (x->>'tz'))::date)
                                       ELSE x END), '[]')
        INTO batch FROM jsonb_array_elements(batch) x;
    END IF;
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
        IF to_regclass('pg_temp.analytics_old_rooms') IS NULL THEN
            CREATE TEMP TABLE analytics_old_rooms (host uuid, home uuid, a date, d date)
                ON COMMIT DELETE ROWS;
        END IF;
        INSERT INTO analytics_days SELECT host_club_id, home_club_id, arrive_on
            FROM analytics.visits WHERE visit_id = ANY (vids);
        INSERT INTO analytics_old_rooms SELECT host_club_id, home_club_id, arrive_on, depart_on
            FROM analytics.visits
            WHERE visit_id = ANY (vids) AND rooms AND status IN ('checked_in', 'completed');
        PERFORM analytics.refresh_visits(vids);
        PERFORM analytics.apply_room_nights(vids);
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

CREATE OR REPLACE FUNCTION analytics.rebuild() RETURNS void
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
    DELETE FROM analytics.daily_rooms;
    INSERT INTO analytics.daily_rooms
    SELECT v.host_club_id, v.home_club_id, g::date, count(*)
    FROM analytics.visits v
    CROSS JOIN LATERAL generate_series(v.arrive_on, v.depart_on - 1, interval '1 day') g
    WHERE v.rooms AND v.status IN ('checked_in', 'completed')
    GROUP BY 1, 2, 3;
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

CREATE OR REPLACE FUNCTION analytics.refresh_visits(vids uuid[]) RETURNS void
    LANGUAGE sql
    AS $fn$
    WITH ev AS MATERIALIZED (
        SELECT r.visit_id, r.host_club_id, r.home_club_id, r.member_key, r.facts, r.type,
               r.occurred_at, r.event_id
        FROM analytics.raw_events r WHERE r.visit_id = ANY (vids)),
    a AS (SELECT DISTINCT ON (visit_id) visit_id, host_club_id, home_club_id, member_key, facts,
                 coalesce((facts->>'requested_at')::timestamptz, occurred_at) AS req
          FROM ev WHERE facts ? 'arrive_on'
          ORDER BY visit_id, occurred_at, event_id),
    s AS (SELECT DISTINCT ON (visit_id) visit_id, facts->>'status' AS status
          FROM ev WHERE facts ? 'status'
          ORDER BY visit_id, occurred_at DESC, event_id DESC),
    l AS (SELECT visit_id, min(occurred_at) AS at FROM ev WHERE type = 'loi.issued'
          GROUP BY visit_id)
    INSERT INTO analytics.visits AS v (visit_id, host_club_id, home_club_id, member_key, category,
        facility, arrive_on, depart_on, guests, status, requested_at, approved_at, lead_days,
        rooms)
    SELECT a.visit_id, a.host_club_id, a.home_club_id, a.member_key,
           coalesce(m.category, ''), coalesce(a.facts->>'facility', ''),
           (a.facts->>'arrive_on')::date, (a.facts->>'depart_on')::date,
           coalesce((a.facts->>'guests')::integer, 0), s.status, a.req, l.at,
           (a.facts->>'arrive_on')::date
             - (a.req AT TIME ZONE coalesce(a.facts->>'timezone', c.timezone, 'UTC'))::date,
           coalesce((a.facts->>'rooms')::boolean, a.facts->>'facility' = 'rooms', false)
    FROM a
    JOIN s ON s.visit_id = a.visit_id AND s.status IS NOT NULL
    LEFT JOIN l ON l.visit_id = a.visit_id
    LEFT JOIN analytics.members m
           ON m.club_id = a.home_club_id AND m.member_key = a.member_key
    LEFT JOIN analytics.clubs c ON c.club_id = a.host_club_id
    ON CONFLICT (visit_id) DO UPDATE SET host_club_id = EXCLUDED.host_club_id,
        home_club_id = EXCLUDED.home_club_id, member_key = EXCLUDED.member_key,
        category = EXCLUDED.category, facility = EXCLUDED.facility,
        arrive_on = EXCLUDED.arrive_on, depart_on = EXCLUDED.depart_on,
        guests = EXCLUDED.guests, status = EXCLUDED.status,
        requested_at = EXCLUDED.requested_at, approved_at = EXCLUDED.approved_at,
        lead_days = EXCLUDED.lead_days, rooms = EXCLUDED.rooms
$fn$;

DROP FUNCTION analytics.visits_from_folds(uuid[]);
DROP FUNCTION analytics.fold_visits(analytics.fact[]);
DROP FUNCTION analytics.fold_wins(timestamptz, uuid, timestamptz, uuid, boolean);
DROP TABLE analytics.visit_folds;
DROP FUNCTION analytics.recompute_usage_keys(uuid[], date[]);
DROP FUNCTION analytics.recompute_money_keys(uuid[], uuid[], date[]);
DROP FUNCTION analytics.recompute_visit_keys(uuid[], uuid[], date[]);
DROP TYPE analytics.fact;
