-- Back to 0008: the ingest recomputes the touched days from their visits (recompute_visit_keys),
-- visits_from_folds writes the visits rows itself, the monthly writers plan as they did.
DO $do$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'analytics'::regnamespace
               AND p.proname IN ('month_delta', 'apply_keys', 'apply_approvals') LOOP
        EXECUTE format('ALTER FUNCTION %s RESET ALL', f);
    END LOOP;
END
$do$;

CREATE OR REPLACE FUNCTION analytics.ingest(batch jsonb) RETURNS integer
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    fs analytics.fact[];   -- the batch, parsed once
    nf analytics.fact[];   -- the facts new in the raw store
    n integer;
    vids uuid[];
    -- the refreshed visits' (host, home, arrival) before and after; their counted stays before
    -- (with the visit) and after
    dh uuid[]; dof uuid[]; dd date[];
    ov uuid[]; rh uuid[]; ro uuid[]; ra date[]; rd date[];
    nv uuid[]; nh uuid[]; nho uuid[]; na date[]; nd date[];
    -- the refreshed visits' member categories before (their charges' category), and the visits
    -- whose category changed
    ovs uuid[]; ocs text[]; cv uuid[];
BEGIN
    SELECT array_agg(ROW(x.at, x.id, x.type, x.club, x.host, x.home, x.visit, x.member_key,
                         coalesce(x.day, CASE WHEN x.tz IS NOT NULL
                                              THEN (x.at AT TIME ZONE x.tz)::date END),
                         coalesce(x.facts, '{}'))::analytics.fact)
    INTO fs
    FROM jsonb_to_recordset(batch) AS x(at timestamptz, id uuid, type text, club uuid,
                                        host uuid, home uuid, visit uuid, member_key text,
                                        day date, tz text, facts jsonb);
    IF fs IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM analytics.ensure_month(m)
    FROM (SELECT DISTINCT date_trunc('month', f.at AT TIME ZONE 'UTC')::date m
          FROM unnest(fs) f) s;
    WITH ins AS (
        INSERT INTO analytics.raw_events (occurred_at, event_id, type, club_id, host_club_id,
            home_club_id, visit_id, member_key, day, facts)
        SELECT f.at, f.id, f.type, f.club, f.host, f.home, f.visit, f.member_key, f.day, f.facts
        FROM unnest(fs) f
        ON CONFLICT DO NOTHING
        RETURNING occurred_at, event_id)
    SELECT array_agg(f) INTO nf
    FROM unnest(fs) f JOIN ins ON ins.event_id = f.id AND ins.occurred_at = f.at;
    n := coalesce(cardinality(nf), 0);
    IF n = 0 THEN
        RETURN 0; -- a redelivery or a replay: applied before
    END IF;
    PERFORM analytics.fold_visits(nf);
    -- dimensions (the newest event wins)
    INSERT INTO analytics.clubs AS c (club_id, timezone, name, updated_at)
    SELECT DISTINCT ON (f.club) f.club, coalesce(f.facts->>'timezone', 'UTC'), f.facts->>'name',
           f.at
    FROM unnest(nf) f
    WHERE f.type IN ('club.created', 'club.updated') AND f.facts ? 'timezone'
    ORDER BY f.club, f.at DESC
    ON CONFLICT (club_id) DO UPDATE SET timezone = EXCLUDED.timezone, name = EXCLUDED.name,
        updated_at = EXCLUDED.updated_at WHERE c.updated_at <= EXCLUDED.updated_at;
    INSERT INTO analytics.members AS m (club_id, member_key, category, updated_at)
    SELECT DISTINCT ON (f.club, f.member_key) f.club, f.member_key, f.facts->>'category', f.at
    FROM unnest(nf) f
    WHERE f.type LIKE 'member.%' AND f.member_key IS NOT NULL AND f.facts ? 'category'
    ORDER BY f.club, f.member_key, f.at DESC
    ON CONFLICT (club_id, member_key) DO UPDATE SET category = EXCLUDED.category,
        updated_at = EXCLUDED.updated_at WHERE m.updated_at <= EXCLUDED.updated_at;
    -- visits: the batch's and those of members whose category came in
    SELECT array_agg(DISTINCT id) INTO vids FROM (
        SELECT f.visit id FROM unnest(nf) f
        WHERE f.visit IS NOT NULL AND (f.type LIKE 'visit.%' OR f.type LIKE 'loi.%')
        UNION ALL
        SELECT v.visit_id FROM unnest(nf) f
        CROSS JOIN LATERAL (SELECT visit_id FROM analytics.visits
                            WHERE home_club_id = f.club AND member_key = f.member_key) v
        WHERE f.type LIKE 'member.%' AND f.member_key IS NOT NULL) s;
    IF vids IS NOT NULL THEN
        -- before: the visits' days and counted stays; after: the rows written (RETURNING)
        SELECT array_agg(host_club_id), array_agg(home_club_id), array_agg(arrive_on),
               array_agg(visit_id) FILTER (WHERE counted),
               array_agg(host_club_id) FILTER (WHERE counted),
               array_agg(home_club_id) FILTER (WHERE counted),
               array_agg(arrive_on) FILTER (WHERE counted),
               array_agg(depart_on) FILTER (WHERE counted), array_agg(visit_id),
               array_agg(category)
        INTO dh, dof, dd, ov, rh, ro, ra, rd, ovs, ocs
        FROM (SELECT *, rooms AND status IN ('checked_in', 'completed') AS counted
              FROM analytics.visits WHERE visit_id = ANY (vids)) v;
        SELECT dh || array_agg(u.r_host), dof || array_agg(u.r_home), dd || array_agg(u.r_arrive),
               array_agg(u.r_visit), array_agg(u.r_host) FILTER (WHERE u.r_counted),
               array_agg(u.r_home) FILTER (WHERE u.r_counted),
               array_agg(u.r_arrive) FILTER (WHERE u.r_counted),
               array_agg(u.r_depart) FILTER (WHERE u.r_counted)
        INTO dh, dof, dd, nv, nh, nho, na, nd
        FROM analytics.visits_from_folds(vids) u;
        -- room nights: the rewritten stays' nights minus their nights before
        INSERT INTO analytics.daily_rooms AS d (host_club_id, home_club_id, night, rooms)
        SELECT x.host, x.home, g::date, sum(x.s)
        FROM (SELECT t.host, t.home, t.a, t.d, -1 AS s
              FROM unnest(ov, rh, ro, ra, rd) AS t(v, host, home, a, d) WHERE t.v = ANY (nv)
              UNION ALL
              SELECT t.host, t.home, t.a, t.d, 1
              FROM unnest(nh, nho, na, nd) AS t(host, home, a, d)) x
        CROSS JOIN LATERAL generate_series(x.a, x.d - 1, interval '1 day') g
        GROUP BY 1, 2, 3 HAVING sum(x.s) <> 0
        ON CONFLICT (host_club_id, home_club_id, night)
            DO UPDATE SET rooms = d.rooms + EXCLUDED.rooms;
        DELETE FROM analytics.daily_rooms WHERE rooms = 0;
        PERFORM analytics.recompute_visit_keys(dh, dof, dd);
        -- the charges of those visits carry the visit's member category: their days are
        -- recomputed when it changed ('' before for a visit without a row, as recompute_money_keys
        -- takes it), found through the charges' visit index; no read of the raw store otherwise
        SELECT array_agg(v.visit_id) INTO cv
        FROM analytics.visits v LEFT JOIN unnest(ovs, ocs) AS o(id, c) ON o.id = v.visit_id
        WHERE v.visit_id = ANY (vids) AND v.category <> coalesce(o.c, '');
        dh := NULL; dof := NULL; dd := NULL;
        IF cv IS NOT NULL THEN
            SELECT array_agg(host_club_id), array_agg(home_club_id), array_agg(day)
            INTO dh, dof, dd
            FROM analytics.raw_events
            WHERE visit_id = ANY (cv) AND type IN ('charge.posted', 'charge.reversed')
              AND day IS NOT NULL;
        END IF;
    END IF;
    SELECT dh || array_agg(f.host), dof || array_agg(f.home), dd || array_agg(f.day)
    INTO dh, dof, dd
    FROM unnest(nf) f WHERE f.type IN ('charge.posted', 'charge.reversed') AND f.day IS NOT NULL;
    IF dh IS NOT NULL THEN
        PERFORM analytics.recompute_money_keys(dh, dof, dd);
    END IF;
    SELECT array_agg(f.club), array_agg(f.day) INTO dh, dd
    FROM unnest(nf) f WHERE f.type = 'auth.user_logged_in' AND f.day IS NOT NULL;
    IF dh IS NOT NULL THEN
        PERFORM analytics.recompute_usage_keys(dh, dd);
    END IF;
    RETURN n;
END
$fn$;

CREATE OR REPLACE FUNCTION analytics.visits_from_folds(vids uuid[])
    RETURNS TABLE (r_visit uuid, r_host uuid, r_home uuid, r_arrive date, r_depart date,
                   r_counted boolean)
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    RETURN QUERY
    WITH up AS (
    INSERT INTO analytics.visits AS v (visit_id, host_club_id, home_club_id, member_key, category,
        facility, arrive_on, depart_on, guests, status, requested_at, approved_at, lead_days,
        rooms)
    SELECT a.visit_id, a.host_club_id, a.home_club_id, a.member_key,
           coalesce(m.category, ''), coalesce(a.attr_facts->>'facility', ''),
           (a.attr_facts->>'arrive_on')::date, (a.attr_facts->>'depart_on')::date,
           coalesce((a.attr_facts->>'guests')::integer, 0), a.status, a.req, a.loi_at,
           (a.attr_facts->>'arrive_on')::date
             - (a.req AT TIME ZONE coalesce(a.attr_facts->>'timezone', c.timezone, 'UTC'))::date,
           coalesce((a.attr_facts->>'rooms')::boolean, a.attr_facts->>'facility' = 'rooms', false)
    FROM (SELECT f.*, coalesce((f.attr_facts->>'requested_at')::timestamptz, f.attr_at) AS req
          FROM unnest(vids) u(id)
          CROSS JOIN LATERAL (SELECT * FROM analytics.visit_folds y WHERE y.visit_id = u.id) f
          WHERE f.attr_at IS NOT NULL AND f.status IS NOT NULL) a
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
    RETURNING v.visit_id, v.host_club_id, v.home_club_id, v.arrive_on, v.depart_on,
              v.rooms AND v.status IN ('checked_in', 'completed'))
    SELECT * FROM up;
END
$fn$;

DROP FUNCTION analytics.visit_day_delta(analytics.visits[], analytics.visits[]);
DROP FUNCTION analytics.day_counts(analytics.daily_visits);
DROP FUNCTION analytics.visits_upsert(uuid[]);
DROP FUNCTION analytics.multiset_apply(integer[], integer[], integer[]);
