-- analytics 0005: set-based ingest (docs/analytics.md "Ingest speed: set-based SQL").
--   ingest parses the batch ONCE (jsonb_to_recordset into an array of analytics.fact), applies
--   only the facts that were new in the raw store (a replayed or redelivered fact changes
--   nothing, not even a recompute), and recomputes every touched rollup key of the batch in one
--   statement per rollup (recompute_visit_keys, recompute_money_keys, recompute_usage_keys)
--   instead of one function call per (host, home, day).
--   Every rollup key is looked up through its primary key from the key list (a LATERAL probe
--   per key): the row-level security quals of the rollup tables make the planner estimate one
--   row for them, and the join DELETE ... USING (keys) of 0001 scanned the whole of
--   daily_visits once per key (650 ms for 128 keys at 5,650 rows, growing with the table).
--   Charges and sign-ins are read from the raw store within the days around their local day
--   (occurred_at between day - 1 and day + 2: a local day is at most 14 hours from its UTC
--   date), so only the one or two month partitions holding them are probed.
CREATE TYPE analytics.fact AS (
    at         timestamptz,
    id         uuid,
    type       text,
    club       uuid,
    host       uuid,
    home       uuid,
    visit      uuid,
    member_key text,
    day        date,
    facts      jsonb
);

-- The daily_visits rows of every (host, home, day) given (parallel arrays, duplicates allowed),
-- recomputed from visits.
CREATE FUNCTION analytics.recompute_visit_keys(hosts uuid[], homes uuid[], days date[])
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    DELETE FROM analytics.daily_visits WHERE ctid = ANY (ARRAY(
        SELECT x.ctid
        FROM (SELECT DISTINCT h, o, d FROM unnest(hosts, homes, days) AS t(h, o, d)
              WHERE d IS NOT NULL) k
        CROSS JOIN LATERAL (SELECT y.ctid FROM analytics.daily_visits y
                            WHERE y.host_club_id = k.h AND y.home_club_id = k.o
                              AND y.day = k.d) x));
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
    FROM (SELECT DISTINCT h, o, d FROM unnest(hosts, homes, days) AS t(h, o, d)
          WHERE d IS NOT NULL) k
    CROSS JOIN LATERAL (SELECT * FROM analytics.visits y
                        WHERE y.host_club_id = k.h AND y.home_club_id = k.o
                          AND y.arrive_on = k.d) v
    GROUP BY v.host_club_id, v.home_club_id, v.arrive_on, v.facility, v.category;
END
$fn$;

-- The daily_money rows of every (host, home, day) given, recomputed from the charge events in
-- raw_events.
CREATE FUNCTION analytics.recompute_money_keys(hosts uuid[], homes uuid[], days date[])
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    DELETE FROM analytics.daily_money WHERE ctid = ANY (ARRAY(
        SELECT x.ctid
        FROM (SELECT DISTINCT h, o, d FROM unnest(hosts, homes, days) AS t(h, o, d)
              WHERE h IS NOT NULL AND o IS NOT NULL AND d IS NOT NULL) k
        CROSS JOIN LATERAL (SELECT y.ctid FROM analytics.daily_money y
                            WHERE y.host_club_id = k.h AND y.home_club_id = k.o
                              AND y.day = k.d) x));
    INSERT INTO analytics.daily_money
    SELECT k.h, k.o, k.d, coalesce(r.facts->>'facility', ''), coalesce(v.category, ''),
           r.facts->>'currency', sum((r.facts->>'amount')::bigint), count(*)
    FROM (SELECT DISTINCT h, o, d FROM unnest(hosts, homes, days) AS t(h, o, d)
          WHERE h IS NOT NULL AND o IS NOT NULL AND d IS NOT NULL) k
    CROSS JOIN LATERAL (SELECT * FROM analytics.raw_events y
                        WHERE y.host_club_id = k.h AND y.home_club_id = k.o AND y.day = k.d
                          AND y.occurred_at >= (k.d - 1)::timestamp AT TIME ZONE 'UTC'
                          AND y.occurred_at < (k.d + 2)::timestamp AT TIME ZONE 'UTC'
                          AND y.type IN ('charge.posted', 'charge.reversed')) r
    LEFT JOIN analytics.visits v ON v.visit_id = r.visit_id
    GROUP BY 1, 2, 3, 4, 5, 6;
END
$fn$;

-- The daily_usage rows of every (club, day) given, recomputed from the sign-in events.
CREATE FUNCTION analytics.recompute_usage_keys(clubs uuid[], days date[]) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    DELETE FROM analytics.daily_usage WHERE ctid = ANY (ARRAY(
        SELECT x.ctid
        FROM (SELECT DISTINCT c, d FROM unnest(clubs, days) AS t(c, d)
              WHERE c IS NOT NULL AND d IS NOT NULL) k
        CROSS JOIN LATERAL (SELECT y.ctid FROM analytics.daily_usage y
                            WHERE y.club_id = k.c AND y.day = k.d) x));
    INSERT INTO analytics.daily_usage
    SELECT k.c, k.d, count(*),
           coalesce(array_agg(DISTINCT r.member_key ORDER BY r.member_key)
                    FILTER (WHERE r.member_key IS NOT NULL), '{}')
    FROM (SELECT DISTINCT c, d FROM unnest(clubs, days) AS t(c, d)
          WHERE c IS NOT NULL AND d IS NOT NULL) k
    CROSS JOIN LATERAL (SELECT * FROM analytics.raw_events y
                        WHERE y.club_id = k.c AND y.day = k.d
                          AND y.occurred_at >= (k.d - 1)::timestamp AT TIME ZONE 'UTC'
                          AND y.occurred_at < (k.d + 2)::timestamp AT TIME ZONE 'UTC'
                          AND y.type = 'auth.user_logged_in') r
    GROUP BY k.c, k.d;
END
$fn$;

-- visit_folds: per visit, the summary of its raw events that its visits row is computed from
-- (refresh_visits of 0004 took the same three things from every raw event of the visit): the
-- earliest event carrying the visit's attributes (facts ? 'arrive_on'; ties: event id), the
-- latest event carrying a status (ties: event id) and the first loi.issued. Each is a minimum or
-- a maximum, so a batch's new events fold into the row exactly (fold_visits) and the result
-- equals the summary of all the events: the ingest no longer reads the raw store per visit (one
-- index probe per month partition per visit). refresh_visits (the rebuild) recomputes the rows
-- from the raw store. A visit whose raw events are past retention keeps its row.
CREATE TABLE analytics.visit_folds (
    visit_id     uuid PRIMARY KEY,
    attr_at      timestamptz,   -- the attribute event: time, id, its row's clubs and member
    attr_id      uuid,
    host_club_id uuid,
    home_club_id uuid,
    member_key   text,
    attr_facts   jsonb,
    status_at    timestamptz,   -- the status event: time, id, status (NULL when it had none)
    status_id    uuid,
    status       text,
    loi_at       timestamptz    -- the first loi.issued
);
ALTER TABLE analytics.visit_folds ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.visit_folds FORCE ROW LEVEL SECURITY;
CREATE POLICY visit_folds_relay ON analytics.visit_folds
    USING (core.is_relay()) WITH CHECK (core.is_relay());
GRANT SELECT, INSERT, UPDATE, DELETE ON analytics.visit_folds TO reciprocal_app;

-- 1 when the event (at1, id1) replaces (at2, id2) in a fold: the earlier one (later = false) or
-- the later one (later = true); no event never wins.
CREATE FUNCTION analytics.fold_wins(at1 timestamptz, id1 uuid, at2 timestamptz, id2 uuid,
                                    later boolean) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $fn$
    SELECT at1 IS NOT NULL AND (at2 IS NULL OR CASE WHEN later THEN (at1, id1) > (at2, id2)
                                                    ELSE (at1, id1) < (at2, id2) END)
$fn$;

-- The fold of each visit's events among facts fs (every event naming a visit, as the raw store
-- holds them), merged into visit_folds: the earlier attribute event, the later status event, the
-- earlier LOI.
CREATE FUNCTION analytics.fold_visits(fs analytics.fact[]) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    INSERT INTO analytics.visit_folds AS f
    SELECT v.visit, a.at, a.id, a.host, a.home, a.member_key, a.facts, s.at, s.id,
           s.facts->>'status', v.loi_at
    FROM (SELECT x.visit, min(x.at) FILTER (WHERE x.type = 'loi.issued') AS loi_at
          FROM unnest(fs) x WHERE x.visit IS NOT NULL GROUP BY x.visit) v
    LEFT JOIN (SELECT DISTINCT ON (x.visit) x.* FROM unnest(fs) x
               WHERE x.visit IS NOT NULL AND x.facts ? 'arrive_on'
               ORDER BY x.visit, x.at, x.id) a ON a.visit = v.visit
    LEFT JOIN (SELECT DISTINCT ON (x.visit) x.* FROM unnest(fs) x
               WHERE x.visit IS NOT NULL AND x.facts ? 'status'
               ORDER BY x.visit, x.at DESC, x.id DESC) s ON s.visit = v.visit
    -- the earlier attribute event and the later status event win
    ON CONFLICT (visit_id) DO UPDATE SET
        attr_at = CASE WHEN analytics.fold_wins(EXCLUDED.attr_at, EXCLUDED.attr_id, f.attr_at,
                                                f.attr_id, false)
                      THEN EXCLUDED.attr_at ELSE f.attr_at END,
        attr_id = CASE WHEN analytics.fold_wins(EXCLUDED.attr_at, EXCLUDED.attr_id, f.attr_at,
                                                f.attr_id, false)
                      THEN EXCLUDED.attr_id ELSE f.attr_id END,
        host_club_id = CASE WHEN analytics.fold_wins(EXCLUDED.attr_at, EXCLUDED.attr_id, f.attr_at,
                                                     f.attr_id, false)
                           THEN EXCLUDED.host_club_id ELSE f.host_club_id END,
        home_club_id = CASE WHEN analytics.fold_wins(EXCLUDED.attr_at, EXCLUDED.attr_id, f.attr_at,
                                                     f.attr_id, false)
                           THEN EXCLUDED.home_club_id ELSE f.home_club_id END,
        member_key = CASE WHEN analytics.fold_wins(EXCLUDED.attr_at, EXCLUDED.attr_id, f.attr_at,
                                                   f.attr_id, false)
                         THEN EXCLUDED.member_key ELSE f.member_key END,
        attr_facts = CASE WHEN analytics.fold_wins(EXCLUDED.attr_at, EXCLUDED.attr_id, f.attr_at,
                                                   f.attr_id, false)
                         THEN EXCLUDED.attr_facts ELSE f.attr_facts END,
        status_at = CASE WHEN analytics.fold_wins(EXCLUDED.status_at, EXCLUDED.status_id,
                                                  f.status_at, f.status_id, true)
                        THEN EXCLUDED.status_at ELSE f.status_at END,
        status_id = CASE WHEN analytics.fold_wins(EXCLUDED.status_at, EXCLUDED.status_id,
                                                  f.status_at, f.status_id, true)
                        THEN EXCLUDED.status_id ELSE f.status_id END,
        status = CASE WHEN analytics.fold_wins(EXCLUDED.status_at, EXCLUDED.status_id, f.status_at,
                                               f.status_id, true)
                     THEN EXCLUDED.status ELSE f.status END,
        loi_at = least(f.loi_at, EXCLUDED.loi_at);
END
$fn$;

-- The visits rows of vids from their folds and the dimensions (a visit without an attribute
-- event or a status keeps its row, as in 0004). Returns the rows written: visit, host, home,
-- arrival, departure, and whether its nights count as occupied rooms.
CREATE FUNCTION analytics.visits_from_folds(vids uuid[])
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

-- Recomputes the folds of vids from the raw store (their raw events, read once), then their
-- visits rows (the rebuild; the same rows as 0004's refresh).
CREATE OR REPLACE FUNCTION analytics.refresh_visits(vids uuid[]) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    DELETE FROM analytics.visit_folds f
    WHERE f.visit_id = ANY (vids)
      AND EXISTS (SELECT 1 FROM analytics.raw_events r WHERE r.visit_id = f.visit_id);
    PERFORM analytics.fold_visits(array_agg(ROW(r.occurred_at, r.event_id, r.type, r.club_id,
                                                r.host_club_id, r.home_club_id, r.visit_id,
                                                r.member_key, r.day, r.facts)::analytics.fact))
    FROM analytics.raw_events r WHERE r.visit_id = ANY (vids);
    PERFORM analytics.visits_from_folds(vids);
END
$fn$;

-- the folds of the visits in the raw store (the migration reads it in the relay scope)
SELECT set_config('app.relay', 'on', true);
INSERT INTO analytics.visit_folds
SELECT v.visit_id, a.occurred_at, a.event_id, a.host_club_id, a.home_club_id, a.member_key,
       a.facts, s.occurred_at, s.event_id, s.facts->>'status', v.loi_at
FROM (SELECT visit_id, min(occurred_at) FILTER (WHERE type = 'loi.issued') AS loi_at
      FROM analytics.raw_events WHERE visit_id IS NOT NULL GROUP BY visit_id) v
LEFT JOIN (SELECT DISTINCT ON (visit_id) * FROM analytics.raw_events
           WHERE visit_id IS NOT NULL AND facts ? 'arrive_on'
           ORDER BY visit_id, occurred_at, event_id) a ON a.visit_id = v.visit_id
LEFT JOIN (SELECT DISTINCT ON (visit_id) * FROM analytics.raw_events
           WHERE visit_id IS NOT NULL AND facts ? 'status'
           ORDER BY visit_id, occurred_at DESC, event_id DESC) s ON s.visit_id = v.visit_id;

-- 0001's per-batch entry point (the bench loads its report data with it), now the keyed one.
CREATE OR REPLACE FUNCTION analytics.recompute_visit_days(days jsonb) RETURNS void
    LANGUAGE sql
    AS $fn$
    SELECT analytics.recompute_visit_keys(array_agg((t->>0)::uuid), array_agg((t->>1)::uuid),
                                          array_agg((t->>2)::date))
    FROM jsonb_array_elements(days) t
$fn$;

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
               array_agg(depart_on) FILTER (WHERE counted)
        INTO dh, dof, dd, ov, rh, ro, ra, rd
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
        -- the charges of those visits carry the visit's member category
        SELECT array_agg(host_club_id), array_agg(home_club_id), array_agg(day)
        INTO dh, dof, dd
        FROM analytics.raw_events
        WHERE visit_id = ANY (vids) AND type IN ('charge.posted', 'charge.reversed')
          AND day IS NOT NULL;
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

CREATE OR REPLACE FUNCTION analytics.rebuild() RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    PERFORM analytics.refresh_visits(array_agg(DISTINCT visit_id))
    FROM analytics.raw_events WHERE visit_id IS NOT NULL;
    DELETE FROM analytics.daily_visits;
    PERFORM analytics.recompute_visit_keys(array_agg(host_club_id), array_agg(home_club_id),
                                           array_agg(arrive_on))
    FROM analytics.visits;
    DELETE FROM analytics.daily_rooms;
    INSERT INTO analytics.daily_rooms
    SELECT v.host_club_id, v.home_club_id, g::date, count(*)
    FROM analytics.visits v
    CROSS JOIN LATERAL generate_series(v.arrive_on, v.depart_on - 1, interval '1 day') g
    WHERE v.rooms AND v.status IN ('checked_in', 'completed')
    GROUP BY 1, 2, 3;
    -- money and usage: every day of the raw store recomputed (days past retention keep theirs)
    PERFORM analytics.recompute_money_keys(array_agg(host_club_id), array_agg(home_club_id),
                                           array_agg(day))
    FROM analytics.raw_events WHERE day IS NOT NULL;
    PERFORM analytics.recompute_usage_keys(array_agg(club_id), array_agg(day))
    FROM analytics.raw_events WHERE type = 'auth.user_logged_in' AND day IS NOT NULL;
END
$fn$;
