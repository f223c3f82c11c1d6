-- analytics 0019: a batch's visit folds and its visits rows written by one statement
-- (docs/analytics.md "Ingest: the folds and the visits rows in one statement (stop 24)").
--   analytics.ingest folded the batch's events into visit_folds (fold_visits: an upsert), then
--   visits_upsert(vids) read each visit's fold back by a primary-key probe and upserted its
--   visits row. fold_visits_upsert(fs, vb) does both in one statement: the fold's upsert returns
--   the folds as written (RETURNING), and the visits rows of vb (the visits that the batch's
--   visit and LOI events name: what visits_upsert was given for them) are computed from those
--   rows, with the same expressions and the same member and club look-ups. The visits of
--   members whose category came in (not folded by the batch) still go through visits_upsert.
--   The visits rows before the batch are read first (the folds and dimensions do not change
--   them). Same rows, same values; fold_visits stays (refresh_visits, the rebuild).

-- The folds of facts fs merged into visit_folds (as fold_visits), and the visits rows of the
-- visits vb among them written from the merged folds (as visits_upsert(vb)); returns those rows.
CREATE FUNCTION analytics.fold_visits_upsert(fs analytics.fact[], vb uuid[])
    RETURNS analytics.visits[]
    LANGUAGE plpgsql
    SET enable_seqscan = off SET enable_bitmapscan = off
    AS $fn$
DECLARE
    r analytics.visits[];
BEGIN
    WITH fo AS (
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
            attr_at = CASE WHEN analytics.fold_wins(EXCLUDED.attr_at, EXCLUDED.attr_id,
                                                    f.attr_at, f.attr_id, false)
                          THEN EXCLUDED.attr_at ELSE f.attr_at END,
            attr_id = CASE WHEN analytics.fold_wins(EXCLUDED.attr_at, EXCLUDED.attr_id,
                                                    f.attr_at, f.attr_id, false)
                          THEN EXCLUDED.attr_id ELSE f.attr_id END,
            host_club_id = CASE WHEN analytics.fold_wins(EXCLUDED.attr_at, EXCLUDED.attr_id,
                                                         f.attr_at, f.attr_id, false)
                               THEN EXCLUDED.host_club_id ELSE f.host_club_id END,
            home_club_id = CASE WHEN analytics.fold_wins(EXCLUDED.attr_at, EXCLUDED.attr_id,
                                                         f.attr_at, f.attr_id, false)
                               THEN EXCLUDED.home_club_id ELSE f.home_club_id END,
            member_key = CASE WHEN analytics.fold_wins(EXCLUDED.attr_at, EXCLUDED.attr_id,
                                                       f.attr_at, f.attr_id, false)
                             THEN EXCLUDED.member_key ELSE f.member_key END,
            attr_facts = CASE WHEN analytics.fold_wins(EXCLUDED.attr_at, EXCLUDED.attr_id,
                                                       f.attr_at, f.attr_id, false)
                             THEN EXCLUDED.attr_facts ELSE f.attr_facts END,
            status_at = CASE WHEN analytics.fold_wins(EXCLUDED.status_at, EXCLUDED.status_id,
                                                      f.status_at, f.status_id, true)
                            THEN EXCLUDED.status_at ELSE f.status_at END,
            status_id = CASE WHEN analytics.fold_wins(EXCLUDED.status_at, EXCLUDED.status_id,
                                                      f.status_at, f.status_id, true)
                            THEN EXCLUDED.status_id ELSE f.status_id END,
            status = CASE WHEN analytics.fold_wins(EXCLUDED.status_at, EXCLUDED.status_id,
                                                   f.status_at, f.status_id, true)
                         THEN EXCLUDED.status ELSE f.status END,
            loi_at = least(f.loi_at, EXCLUDED.loi_at)
        RETURNING f.*),
    up AS (
        INSERT INTO analytics.visits AS v (visit_id, host_club_id, home_club_id, member_key,
            category, facility, arrive_on, depart_on, guests, status, requested_at, approved_at,
            lead_days, rooms)
        SELECT a.visit_id, a.host_club_id, a.home_club_id, a.member_key,
               coalesce(m.category, ''), coalesce(a.attr_facts->>'facility', ''),
               (a.attr_facts->>'arrive_on')::date, (a.attr_facts->>'depart_on')::date,
               coalesce((a.attr_facts->>'guests')::integer, 0), a.status, a.req, a.loi_at,
               (a.attr_facts->>'arrive_on')::date
                 - (a.req AT TIME ZONE coalesce(a.attr_facts->>'timezone', c.timezone,
                                                'UTC'))::date,
               coalesce((a.attr_facts->>'rooms')::boolean, a.attr_facts->>'facility' = 'rooms',
                        false)
        FROM (SELECT f.*, coalesce((f.attr_facts->>'requested_at')::timestamptz, f.attr_at)
                          AS req
              FROM fo f
              WHERE f.attr_at IS NOT NULL AND f.status IS NOT NULL
                AND f.visit_id IN (SELECT unnest(vb))) a
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
        RETURNING v.*)
    SELECT array_agg(ROW(up.*)::analytics.visits) INTO r FROM up;
    RETURN r;
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
    vb uuid[];   -- the visits the batch's visit and LOI events name (folded and written at once)
    vm uuid[];   -- the other visits of members whose category came in (their folds as they are)
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
    -- visits: the batch's (vb) and those of members whose category came in (vm)
    SELECT array_agg(DISTINCT f.visit) INTO vb FROM unnest(nf) f
    WHERE f.visit IS NOT NULL AND (f.type LIKE 'visit.%' OR f.type LIKE 'loi.%');
    SELECT array_agg(DISTINCT v.visit_id) INTO vm FROM unnest(nf) f
    CROSS JOIN LATERAL (SELECT visit_id FROM analytics.visits
                        WHERE home_club_id = f.club AND member_key = f.member_key) v
    WHERE f.type LIKE 'member.%' AND f.member_key IS NOT NULL
      AND v.visit_id <> ALL (coalesce(vb, '{}'));
    vids := coalesce(vb, '{}') || coalesce(vm, '{}');
    -- their rows before the batch, then the folds of the batch's events and the batch's visits
    -- rows from the folds that statement wrote (0019: no second probe of visit_folds), then the
    -- members' other visits from their folds
    IF cardinality(vids) > 0 THEN
        ov := analytics.visits_before(vids);
    END IF;
    nv := analytics.fold_visits_upsert(nf, coalesce(vb, '{}'));
    IF vm IS NOT NULL THEN
        SELECT nv || array_agg(u) INTO nv FROM analytics.visits_upsert(vm) u;
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
