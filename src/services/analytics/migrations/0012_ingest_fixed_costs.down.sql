-- analytics 0012 down: multiset_apply and visits_upsert as LANGUAGE sql again, analytics.ingest
-- of 0011 (ensure_month called for every month of the batch), month_delta(daily_visits) of 0007
-- (with the planner settings of 0009 and 0010).

CREATE OR REPLACE FUNCTION analytics.multiset_apply(a integer[], plus integer[], minus integer[])
    RETURNS integer[]
    LANGUAGE sql IMMUTABLE
    AS $fn$
    SELECT CASE WHEN plus IS NULL AND minus IS NULL THEN a
                ELSE ARRAY(SELECT x.v
                           FROM (SELECT v, row_number() OVER (PARTITION BY v) AS rn
                                 FROM unnest(coalesce(a, '{}') || coalesce(plus, '{}')) v) x
                           WHERE x.rn > (SELECT count(*) FROM unnest(minus) m WHERE m = x.v)
                           ORDER BY x.v) END
$fn$;

CREATE OR REPLACE FUNCTION analytics.visits_upsert(vids uuid[]) RETURNS SETOF analytics.visits
    LANGUAGE sql
    SET enable_seqscan = off SET enable_bitmapscan = off
    AS $fn$
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
    RETURNING v.*
$fn$;

CREATE OR REPLACE FUNCTION analytics.month_delta(o analytics.daily_visits[], n analytics.daily_visits[])
    RETURNS void
    LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off SET enable_seqscan = off
    AS $fn$
DECLARE
    v_kd "char"[]; v_h uuid[]; v_ho uuid[]; v_k text[]; v_m date[]; v_d integer[]; v_sec integer[];
BEGIN
    IF cardinality(o) + cardinality(n) = 0 THEN
        RETURN;
    END IF;
    WITH sg AS (SELECT -1 AS s, x.* FROM unnest(o) x UNION ALL SELECT 1, x.* FROM unnest(n) x),
    dl AS (
        SELECT host_club_id AS h, home_club_id AS ho, date_trunc('month', day)::date AS m,
               sum(s) AS days, sum(s * requested) AS requested, sum(s * approved) AS approved,
               sum(s * declined) AS declined, sum(s * confirmed) AS confirmed,
               sum(s * checked_in) AS checked_in, sum(s * completed) AS completed,
               sum(s * no_show) AS no_show, sum(s * cancelled) AS cancelled,
               sum(s * visits) AS visits, sum(s * visitor_days) AS visitor_days,
               sum(s * visitor_nights) AS visitor_nights, sum(s * guests) AS guests,
               sum(s * lead_0_1) AS lead_0_1, sum(s * lead_2_7) AS lead_2_7,
               sum(s * lead_8) AS lead_8,
               ARRAY[coalesce(sum(s * visits) FILTER (WHERE extract(isodow FROM day) = 1), 0),
                     coalesce(sum(s * visits) FILTER (WHERE extract(isodow FROM day) = 2), 0),
                     coalesce(sum(s * visits) FILTER (WHERE extract(isodow FROM day) = 3), 0),
                     coalesce(sum(s * visits) FILTER (WHERE extract(isodow FROM day) = 4), 0),
                     coalesce(sum(s * visits) FILTER (WHERE extract(isodow FROM day) = 5), 0),
                     coalesce(sum(s * visits) FILTER (WHERE extract(isodow FROM day) = 6), 0),
                     coalesce(sum(s * visits) FILTER (WHERE extract(isodow FROM day) = 7), 0)]
                   AS dow
        FROM sg GROUP BY 1, 2, 3),
    ab AS (SELECT dl.h, dl.ho, dl.m, coalesce(e.days, 0) + dl.days AS days,
                  coalesce(e.requested, 0) + dl.requested AS requested,
                  coalesce(e.approved, 0) + dl.approved AS approved,
                  coalesce(e.declined, 0) + dl.declined AS declined,
                  coalesce(e.confirmed, 0) + dl.confirmed AS confirmed,
                  coalesce(e.checked_in, 0) + dl.checked_in AS checked_in,
                  coalesce(e.completed, 0) + dl.completed AS completed,
                  coalesce(e.no_show, 0) + dl.no_show AS no_show,
                  coalesce(e.cancelled, 0) + dl.cancelled AS cancelled,
                  coalesce(e.visits, 0) + dl.visits AS visits,
                  coalesce(e.visitor_days, 0) + dl.visitor_days AS visitor_days,
                  coalesce(e.visitor_nights, 0) + dl.visitor_nights AS visitor_nights,
                  coalesce(e.guests, 0) + dl.guests AS guests,
                  coalesce(e.lead_0_1, 0) + dl.lead_0_1 AS lead_0_1,
                  coalesce(e.lead_2_7, 0) + dl.lead_2_7 AS lead_2_7,
                  coalesce(e.lead_8, 0) + dl.lead_8 AS lead_8,
                  ARRAY(SELECT (coalesce(e.dow_visits[i], 0) + dl.dow[i])::integer
                        FROM generate_series(1, 7) i ORDER BY i) AS dow_visits, e.ctid AS tid
           FROM dl LEFT JOIN LATERAL (
               SELECT y.*, y.ctid FROM analytics.monthly_visits y
               WHERE y.host_club_id = dl.h AND y.home_club_id = dl.ho AND y.month = dl.m) e
             ON true),
    del AS (DELETE FROM analytics.monthly_visits
            WHERE ctid = ANY (ARRAY(SELECT tid FROM ab WHERE days = 0)))
    INSERT INTO analytics.monthly_visits AS y
    SELECT h, ho, m, days, requested, approved, declined, confirmed, checked_in, completed,
           no_show, cancelled, visits, visitor_days, visitor_nights, guests, lead_0_1, lead_2_7,
           lead_8, dow_visits
    FROM ab WHERE days > 0
    ON CONFLICT (host_club_id, home_club_id, month) DO UPDATE SET days = EXCLUDED.days,
        requested = EXCLUDED.requested, approved = EXCLUDED.approved,
        declined = EXCLUDED.declined, confirmed = EXCLUDED.confirmed,
        checked_in = EXCLUDED.checked_in, completed = EXCLUDED.completed,
        no_show = EXCLUDED.no_show, cancelled = EXCLUDED.cancelled, visits = EXCLUDED.visits,
        visitor_days = EXCLUDED.visitor_days, visitor_nights = EXCLUDED.visitor_nights,
        guests = EXCLUDED.guests, lead_0_1 = EXCLUDED.lead_0_1, lead_2_7 = EXCLUDED.lead_2_7,
        lead_8 = EXCLUDED.lead_8, dow_visits = EXCLUDED.dow_visits;
    -- approval delays
    SELECT array_agg(x.host_club_id), array_agg(x.home_club_id),
           array_agg(date_trunc('month', x.day)::date), array_agg(a), array_agg(x.s)
    INTO v_h, v_ho, v_m, v_sec, v_d
    FROM (SELECT -1 AS s, y.* FROM unnest(o) y UNION ALL SELECT 1, y.* FROM unnest(n) y) x
    CROSS JOIN LATERAL unnest(x.approve_secs) a;
    IF v_h IS NOT NULL THEN
        PERFORM analytics.apply_approvals(v_h, v_ho, v_m, v_sec, v_d);
    END IF;
    -- visitors: one change per daily row holding the key, in each of the three scopes
    SELECT array_agg('v'::"char"), array_agg(sc.h), array_agg(sc.ho), array_agg(key),
           array_agg(date_trunc('month', x.day)::date), array_agg(x.s)
    INTO v_kd, v_h, v_ho, v_k, v_m, v_d
    FROM (SELECT -1 AS s, y.* FROM unnest(o) y UNION ALL SELECT 1, y.* FROM unnest(n) y) x
    CROSS JOIN LATERAL unnest(x.member_keys) key
    CROSS JOIN LATERAL (VALUES (x.host_club_id, x.home_club_id),
                               (x.host_club_id, '00000000-0000-0000-0000-000000000000'::uuid),
                               ('00000000-0000-0000-0000-000000000000'::uuid, x.home_club_id))
        sc(h, ho);
    IF v_kd IS NOT NULL THEN
        PERFORM analytics.apply_keys(v_kd, v_h, v_ho, v_k, v_m, v_d);
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION analytics.ingest(batch jsonb) RETURNS integer
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    fs analytics.fact[];   -- the batch, parsed once
    nf analytics.fact[];   -- the facts new in the raw store
    n integer;
    vids uuid[];
    -- the refreshed visits' rows before and after the batch (the rows written)
    ov analytics.visits[]; nv analytics.visits[];
    dh uuid[]; dof uuid[]; dd date[];
    cv uuid[];   -- the visits whose member category changed
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
        ov := analytics.visits_before(vids);
        SELECT array_agg(u) INTO nv FROM analytics.visits_upsert(vids) u;
    END IF;
    IF nv IS NOT NULL THEN
        -- room nights: the rewritten stays' nights minus their nights before
        INSERT INTO analytics.daily_rooms AS d (host_club_id, home_club_id, night, rooms)
        SELECT x.host_club_id, x.home_club_id, g::date, sum(x.s)
        FROM (SELECT -1 AS s, t.* FROM unnest(ov) t
              WHERE t.visit_id IN (SELECT visit_id FROM unnest(nv))
              UNION ALL
              SELECT 1, t.* FROM unnest(nv) t) x
        CROSS JOIN LATERAL generate_series(x.arrive_on, x.depart_on - 1, interval '1 day') g
        WHERE x.rooms AND x.status IN ('checked_in', 'completed')
        GROUP BY 1, 2, 3 HAVING sum(x.s) <> 0
        ON CONFLICT (host_club_id, home_club_id, night)
            DO UPDATE SET rooms = d.rooms + EXCLUDED.rooms;
        DELETE FROM analytics.daily_rooms WHERE rooms = 0;
        PERFORM analytics.visit_day_delta(coalesce(ov, '{}'), nv);
        -- the charges of those visits carry the visit's member category: their days are
        -- recomputed when it changed ('' before for a visit without a row, as recompute_money_keys
        -- takes it), found through the charges' visit index; no read of the raw store otherwise
        SELECT array_agg(a.visit_id) INTO cv
        FROM unnest(nv) a LEFT JOIN unnest(ov) b ON b.visit_id = a.visit_id
        WHERE a.category <> coalesce(b.category, '');
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
