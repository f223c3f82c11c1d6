-- analytics 0004 down: the refresh of 0003 (two lateral look-ups per visit).
CREATE OR REPLACE FUNCTION analytics.refresh_visits(vids uuid[]) RETURNS void
    LANGUAGE sql
    AS $fn$
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
        lead_days = EXCLUDED.lead_days, rooms = EXCLUDED.rooms
$fn$;

CREATE OR REPLACE FUNCTION analytics.ingest(batch jsonb) RETURNS integer
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
