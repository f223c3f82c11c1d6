-- analytics 0008: the raw store without an index on every event's visit (docs/analytics.md
-- "Ingest speed: end to end through JetStream").
--   raw_events_visit_idx indexed every raw event naming a visit (every visit and LOI event: one
--   btree insertion of a random uuid per event) for two readers: the ingest's "charges of the
--   refreshed visits" (one probe per visit in every month partition, each batch) and the rebuild
--   (refresh_visits). The ingest now reads the charges only of the visits whose member category
--   changed (the one thing a money row takes from its visit), through an index of the charge
--   events alone (raw_events_charge_visit_idx); the rebuild reads the raw events of its visits
--   with one hash join (it reads them all anyway).
DROP INDEX analytics.raw_events_visit_idx;
CREATE INDEX raw_events_charge_visit_idx ON analytics.raw_events (visit_id)
    WHERE visit_id IS NOT NULL AND type IN ('charge.posted', 'charge.reversed');

-- The folds of vids recomputed from their raw events (read once, joined: no index on visit_id),
-- then their visits rows (the rebuild).
CREATE OR REPLACE FUNCTION analytics.refresh_visits(vids uuid[]) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    fs analytics.fact[];
BEGIN
    SELECT array_agg(ROW(r.occurred_at, r.event_id, r.type, r.club_id, r.host_club_id,
                         r.home_club_id, r.visit_id, r.member_key, r.day, r.facts)::analytics.fact)
    INTO fs
    FROM analytics.raw_events r
    JOIN (SELECT DISTINCT u.id FROM unnest(vids) u(id)) u ON u.id = r.visit_id;
    DELETE FROM analytics.visit_folds f
    USING (SELECT DISTINCT x.visit FROM unnest(fs) x) d
    WHERE f.visit_id = d.visit;
    PERFORM analytics.fold_visits(fs);
    PERFORM analytics.visits_from_folds(vids);
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
