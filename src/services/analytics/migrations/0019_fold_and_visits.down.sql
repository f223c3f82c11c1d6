-- Back to 0018: analytics.ingest as 0012 defined it (fold_visits, then visits_upsert of the
-- batch's visits), fold_visits_upsert dropped.
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
    -- only the months without a partition call ensure_month (a SECURITY DEFINER function with
    -- its own search_path: ~0.15 ms a call, five or so a batch); the same test it makes itself
    PERFORM analytics.ensure_month(m)
    FROM (SELECT DISTINCT date_trunc('month', f.at AT TIME ZONE 'UTC')::date m
          FROM unnest(fs) f) s
    WHERE to_regclass('analytics.raw_events_' || to_char(m, 'YYYYMM')) IS NULL;
    -- a plain insert (the batch is new: every fact is new), else, when one of its events is
    -- in the raw store already (a redelivery, a replay) or twice in the batch, the insert that
    -- skips those (its speculative insertion, the RETURNING and the join back to the facts cost
    -- ~3x the plain insert of a batch; the exception block is one subtransaction per batch)
    BEGIN
        INSERT INTO analytics.raw_events (occurred_at, event_id, type, club_id, host_club_id,
            home_club_id, visit_id, member_key, day, facts)
        SELECT f.at, f.id, f.type, f.club, f.host, f.home, f.visit, f.member_key, f.day, f.facts
        FROM unnest(fs) f;
        nf := fs;
    EXCEPTION WHEN unique_violation THEN
        WITH ins AS (
            INSERT INTO analytics.raw_events (occurred_at, event_id, type, club_id, host_club_id,
                home_club_id, visit_id, member_key, day, facts)
            SELECT f.at, f.id, f.type, f.club, f.host, f.home, f.visit, f.member_key, f.day,
                   f.facts
            FROM unnest(fs) f
            ON CONFLICT DO NOTHING
            RETURNING occurred_at, event_id)
        SELECT array_agg(f) INTO nf
        FROM unnest(fs) f JOIN ins ON ins.event_id = f.id AND ins.occurred_at = f.at;
    END;
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

DROP FUNCTION analytics.fold_visits_upsert(analytics.fact[], uuid[]);
