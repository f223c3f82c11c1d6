-- analytics 0009: daily_visits kept as counters by deltas (docs/analytics.md "Ingest speed:
-- counters by deltas").
--   The ingest recomputed every touched (host, home, day) from ALL that day's visits on every
--   batch (recompute_visit_keys: delete the day's rows, aggregate the day's visits again, insert
--   them, read them back for the monthly delta), a cost that grows as a day fills. Now a batch
--   changes the rows by its visits' deltas: each refreshed visit's previous contribution (its
--   visits row before the batch, the per-visit current state) is subtracted and its new one (the
--   row written) added, per daily row (host, home, arrival day, facility, category). Counters are
--   summed; approve_secs is a multiset (the removed seconds taken out, the added ones put in,
--   sorted); member_keys a set: a key whose visit stopped counting leaves the row only when no
--   other visit of the row still counts with it (one probe of visits_member_idx, for removals
--   only). A row whose visits are all gone (requested = 0) is deleted, a row that comes back
--   unchanged is not written. The rows before and after go to month_delta once (the monthly
--   level, as 0007). The rebuild still recomputes the rows from visits (recompute_visit_keys):
--   the same function of the same visits, so the result is byte-identical (tests).
--   visits_upsert(vids)  0005's visits_from_folds returning whole visits rows (the "after");
--                        visits_from_folds is now its projection.
--   visit_day_delta(o, n) the daily_visits change of visits rows o (before) -> n (after), and
--                        the monthly level's: month sums from the rows' counters (month_delta
--                        of the rows without their arrays), visitor keys from the keys that
--                        entered or left a row, approvals from the visits' delays (apply_keys,
--                        apply_approvals): nothing read or unnested per whole row.
--   multiset_apply(a, plus, minus) the sorted multiset a + plus - minus.
CREATE FUNCTION analytics.multiset_apply(a integer[], plus integer[], minus integer[])
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

CREATE FUNCTION analytics.visits_upsert(vids uuid[]) RETURNS SETOF analytics.visits
    LANGUAGE sql
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

CREATE OR REPLACE FUNCTION analytics.visits_from_folds(vids uuid[])
    RETURNS TABLE (r_visit uuid, r_host uuid, r_home uuid, r_arrive date, r_depart date,
                   r_counted boolean)
    LANGUAGE sql
    AS $fn$
    SELECT v.visit_id, v.host_club_id, v.home_club_id, v.arrive_on, v.depart_on,
           v.rooms AND v.status IN ('checked_in', 'completed')
    FROM analytics.visits_upsert(vids) v
$fn$;

-- A daily_visits row without its arrays: month_delta's sums of it (its keys and approval
-- delays go to the monthly level as changes, visit_day_delta).
CREATE FUNCTION analytics.day_counts(r analytics.daily_visits) RETURNS analytics.daily_visits
    LANGUAGE sql IMMUTABLE
    AS $fn$
    SELECT ROW(r.host_club_id, r.home_club_id, r.day, r.facility, r.category, r.requested,
               r.approved, r.declined, r.confirmed, r.checked_in, r.completed, r.no_show,
               r.cancelled, r.visits, r.visitor_days, r.visitor_nights, r.guests, r.lead_0_1,
               r.lead_2_7, r.lead_8, '{}', '{}')::analytics.daily_visits
$fn$;

-- The daily_visits change of visits rows o (before; only visits also in n count) -> n (after),
-- written and handed to month_delta (rows before, rows after).
CREATE FUNCTION analytics.visit_day_delta(o analytics.visits[], n analytics.visits[])
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    monthly constant boolean := analytics.monthly_on();
    v_old analytics.daily_visits[];
    v_new analytics.daily_visits[];
    v_del tid[];
    -- key changes (kind, host, home, key, month, +1/-1) and approval delays (host, home, month,
    -- seconds, +1/-1) for the monthly level
    v_kd "char"[]; v_kh uuid[]; v_kho uuid[]; v_k text[]; v_km date[]; v_ks integer[];
    v_ah uuid[]; v_aho uuid[]; v_am date[]; v_as integer[]; v_an integer[];
BEGIN
    WITH c AS MATERIALIZED (
        SELECT x.s, x.host_club_id AS h, x.home_club_id AS ho, x.arrive_on AS d,
               x.facility AS f, x.category AS ct, x.status, x.approved_at IS NOT NULL AS appr,
               x.status IN ('checked_in', 'completed') AS vis, x.depart_on - x.arrive_on AS nights,
               x.guests, x.lead_days, x.member_key,
               CASE WHEN x.approved_at IS NOT NULL AND x.requested_at IS NOT NULL
                    THEN extract(epoch FROM x.approved_at - x.requested_at)::integer END AS secs
        FROM (SELECT -1 AS s, y.* FROM unnest(o) y WHERE y.visit_id IN (SELECT visit_id
                                                                          FROM unnest(n))
              UNION ALL
              SELECT 1, y.* FROM unnest(n) y) x),
    dl AS (
        SELECT h, ho, d, f, ct, sum(s)::integer AS requested,
               coalesce(sum(s) FILTER (WHERE appr), 0)::integer AS approved,
               coalesce(sum(s) FILTER (WHERE status = 'declined'), 0)::integer AS declined,
               coalesce(sum(s) FILTER (WHERE status = 'confirmed'), 0)::integer AS confirmed,
               coalesce(sum(s) FILTER (WHERE status = 'checked_in'), 0)::integer AS checked_in,
               coalesce(sum(s) FILTER (WHERE status = 'completed'), 0)::integer AS completed,
               coalesce(sum(s) FILTER (WHERE status = 'no_show'), 0)::integer AS no_show,
               coalesce(sum(s) FILTER (WHERE status = 'cancelled'), 0)::integer AS cancelled,
               coalesce(sum(s) FILTER (WHERE vis), 0)::integer AS visits,
               coalesce(sum(s * (nights + 1)) FILTER (WHERE vis), 0)::integer AS visitor_days,
               coalesce(sum(s * nights) FILTER (WHERE vis), 0)::integer AS visitor_nights,
               coalesce(sum(s * guests) FILTER (WHERE vis), 0)::integer AS guests,
               coalesce(sum(s) FILTER (WHERE lead_days <= 1), 0)::integer AS lead_0_1,
               coalesce(sum(s) FILTER (WHERE lead_days BETWEEN 2 AND 7), 0)::integer AS lead_2_7,
               coalesce(sum(s) FILTER (WHERE lead_days >= 8), 0)::integer AS lead_8,
               array_agg(secs) FILTER (WHERE s > 0 AND secs IS NOT NULL) AS add_secs,
               array_agg(secs) FILTER (WHERE s < 0 AND secs IS NOT NULL) AS del_secs,
               array_agg(DISTINCT member_key) FILTER (WHERE s > 0 AND vis
                                                      AND member_key IS NOT NULL) AS add_keys,
               array_agg(DISTINCT member_key) FILTER (WHERE s < 0 AND vis
                                                      AND member_key IS NOT NULL) AS old_keys
        FROM c GROUP BY 1, 2, 3, 4, 5),
    -- materialized: the new row is built once (inlined, each use below rebuilt it)
    ch AS MATERIALIZED (
        SELECT dl.h, dl.ho, dl.d, dl.add_keys, dl.old_keys, e.y AS before, e.tid,
               ROW(dl.h, dl.ho, dl.d, dl.f, dl.ct,
               coalesce((e.y).requested, 0) + dl.requested,
               coalesce((e.y).approved, 0) + dl.approved,
               coalesce((e.y).declined, 0) + dl.declined,
               coalesce((e.y).confirmed, 0) + dl.confirmed,
               coalesce((e.y).checked_in, 0) + dl.checked_in,
               coalesce((e.y).completed, 0) + dl.completed,
               coalesce((e.y).no_show, 0) + dl.no_show,
               coalesce((e.y).cancelled, 0) + dl.cancelled,
               coalesce((e.y).visits, 0) + dl.visits,
               coalesce((e.y).visitor_days, 0) + dl.visitor_days,
               coalesce((e.y).visitor_nights, 0) + dl.visitor_nights,
               coalesce((e.y).guests, 0) + dl.guests,
               coalesce((e.y).lead_0_1, 0) + dl.lead_0_1,
               coalesce((e.y).lead_2_7, 0) + dl.lead_2_7,
               coalesce((e.y).lead_8, 0) + dl.lead_8,
               analytics.multiset_apply(coalesce((e.y).approve_secs, '{}'), dl.add_secs,
                                        dl.del_secs),
               CASE WHEN dl.add_keys IS NULL AND dl.old_keys IS NULL
                    THEN coalesce((e.y).member_keys, '{}')
                    -- a key of a visit that stopped counting stays while another visit of the
                    -- row still counts with it (visits holds every visit's state after the batch)
                    ELSE ARRAY(SELECT DISTINCT k
                               FROM unnest(coalesce((e.y).member_keys, '{}')
                                           || coalesce(dl.add_keys, '{}')) k
                               WHERE k = ANY (coalesce(dl.add_keys, '{}'))
                                  OR k <> ALL (coalesce(dl.old_keys, '{}'))
                                  -- probed per key through visits_member_idx (arrive_on + 0
                                  -- keeps the day's index out; OFFSET 0 keeps it a probe, not
                                  -- a hash of the whole day's keys)
                                  OR EXISTS (SELECT 1 FROM analytics.visits v
                                             WHERE v.home_club_id = dl.ho AND v.member_key = k
                                               AND v.host_club_id = dl.h
                                               AND v.arrive_on + 0 = dl.d
                                               AND v.facility = dl.f AND v.category = dl.ct
                                               AND v.status IN ('checked_in', 'completed')
                                             OFFSET 0)
                               ORDER BY k) END)::analytics.daily_visits AS after
        FROM dl LEFT JOIN LATERAL (
            SELECT y, y.ctid AS tid FROM analytics.daily_visits y
            WHERE y.host_club_id = dl.h AND y.home_club_id = dl.ho AND y.day = dl.d
              AND y.facility = dl.f AND y.category = dl.ct
            OFFSET 0) e ON true), -- a probe by primary key per row (not a hash join of the table)
    -- the keys that entered (+1) or left (-1) a changed row: the monthly level's key changes,
    -- without reading the rows' whole key arrays
    kd AS (
        SELECT x.s, ch.h, ch.ho, date_trunc('month', ch.d)::date AS m, x.k
        FROM ch CROSS JOIN LATERAL (
            SELECT 1 AS s, k FROM unnest(ch.add_keys) k
            WHERE k <> ALL (coalesce((ch.before).member_keys, '{}'))
            UNION ALL
            SELECT -1, k FROM unnest(ch.old_keys) k WHERE k <> ALL ((ch.after).member_keys)) x
        WHERE ch.before IS DISTINCT FROM ch.after)
    SELECT r.*, k.*, a.*
    INTO v_old, v_new, v_del, v_kd, v_kh, v_kho, v_k, v_km, v_ks, v_ah, v_aho, v_am, v_as, v_an
    FROM (SELECT array_agg(before) FILTER (WHERE tid IS NOT NULL),
                 array_agg(after) FILTER (WHERE (after).requested > 0),
                 array_agg(tid) FILTER (WHERE tid IS NOT NULL AND (after).requested = 0)
          FROM ch WHERE before IS DISTINCT FROM after) r,
         -- visitors at (host, home), (host, every home club), (every host, home)
         (SELECT array_agg('v'::"char"), array_agg(sc.h), array_agg(sc.ho), array_agg(kd.k),
                 array_agg(kd.m), array_agg(kd.s)
          FROM kd CROSS JOIN LATERAL (
              VALUES (kd.h, kd.ho), (kd.h, '00000000-0000-0000-0000-000000000000'::uuid),
                     ('00000000-0000-0000-0000-000000000000'::uuid, kd.ho)) sc(h, ho)) k,
         -- the approval delays the visits took out and put in (apply_approvals nets them)
         (SELECT array_agg(c.h), array_agg(c.ho), array_agg(date_trunc('month', c.d)::date),
                 array_agg(c.secs), array_agg(c.s)
          FROM c WHERE c.secs IS NOT NULL) a;
    IF v_old IS NULL AND v_new IS NULL THEN
        RETURN;
    END IF;
    -- the rows written with the monthly triggers off: one month_delta of before and after
    IF monthly THEN
        PERFORM set_config('analytics.monthly_off', 'on', true);
    END IF;
    IF v_del IS NOT NULL THEN
        DELETE FROM analytics.daily_visits WHERE ctid = ANY (v_del);
    END IF;
    IF v_new IS NOT NULL THEN
        INSERT INTO analytics.daily_visits AS y SELECT * FROM unnest(v_new)
        ON CONFLICT (host_club_id, home_club_id, day, facility, category) DO UPDATE SET
            requested = EXCLUDED.requested, approved = EXCLUDED.approved,
            declined = EXCLUDED.declined, confirmed = EXCLUDED.confirmed,
            checked_in = EXCLUDED.checked_in, completed = EXCLUDED.completed,
            no_show = EXCLUDED.no_show, cancelled = EXCLUDED.cancelled,
            visits = EXCLUDED.visits, visitor_days = EXCLUDED.visitor_days,
            visitor_nights = EXCLUDED.visitor_nights, guests = EXCLUDED.guests,
            lead_0_1 = EXCLUDED.lead_0_1, lead_2_7 = EXCLUDED.lead_2_7, lead_8 = EXCLUDED.lead_8,
            approve_secs = EXCLUDED.approve_secs, member_keys = EXCLUDED.member_keys;
    END IF;
    IF monthly THEN
        PERFORM set_config('analytics.monthly_off', 'off', true);
        -- the month sums from the rows' counters; keys and approvals from their changes above
        PERFORM analytics.month_delta(ARRAY(SELECT analytics.day_counts(x) FROM unnest(v_old) x),
                                      ARRAY(SELECT analytics.day_counts(x) FROM unnest(v_new) x));
        IF v_kd IS NOT NULL THEN
            PERFORM analytics.apply_keys(v_kd, v_kh, v_kho, v_k, v_km, v_ks);
        END IF;
        IF v_ah IS NOT NULL THEN
            PERFORM analytics.apply_approvals(v_ah, v_aho, v_am, v_as, v_an);
        END IF;
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
        SELECT array_agg(v) INTO ov FROM analytics.visits v WHERE v.visit_id = ANY (vids);
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

-- The monthly level's writers read the touched month, key and approval rows by primary key
-- (LATERAL probes), but the planner turned several probes into hash joins over the whole
-- table (a sequential scan of monthly_visits, key_month_counts, ... per batch, growing with the
-- tables): nested loops only in these functions. (A full join, which has no nested loop form,
-- then carries the planner's disable cost, far above jit_above_cost: JIT off, or every call
-- compiles its plans.)
DO $do$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'analytics'::regnamespace
               AND p.proname IN ('month_delta', 'apply_keys', 'apply_approvals') LOOP
        EXECUTE format('ALTER FUNCTION %s SET enable_hashjoin = off SET enable_mergejoin = off '
                       'SET jit = off', f);
    END LOOP;
END
$do$;
