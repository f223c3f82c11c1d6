-- analytics 0013: the ingest's rollup rows written by plain INSERT / UPDATE where the probe before
-- already knows whether the row exists (docs/analytics.md "Ingest speed: plain writes where the
-- probe knows; one key row per visitor and month (migrations 0013, 0014, stop 22)").
--   apply_keys      reads each changed (scope, key, month) row by its primary key; a new row is
--                   a plain INSERT, an existing one an UPDATE by ctid (its days), a row reaching
--                   0 days a DELETE by ctid (as before). A key's months, and so key_month_counts,
--                   change only when one of its rows is new or deleted: only those keys read
--                   their months and compute their (month, prev) pairs before and after (a
--                   change of days alone left the counts as they were, computed for nothing).
--                   key_month_counts rows likewise: read by primary key, then INSERT, UPDATE by
--                   ctid or DELETE by ctid. (0010's statement: ON CONFLICT DO UPDATE for both,
--                   a FULL JOIN of every touched key's months with the changes.)
--   visit_day_delta writes a changed daily_visits row by UPDATE by ctid when its probe found it,
--                   by a plain INSERT when not (was: INSERT ... ON CONFLICT DO UPDATE for both).
--   (visits_upsert the same way, a probe by visit_id then UPDATE by ctid or INSERT, was tried
--   and measured: no gain, its statement's share rose; not kept.)
-- Same rows, same values: one ingest at a time (the advisory lock), so a row the probe did not
-- find is not there when the statement writes it.

CREATE OR REPLACE FUNCTION analytics.apply_keys(p_kinds "char"[], p_hosts uuid[], p_homes uuid[],
                                     p_keys text[], p_months date[], p_days integer[])
    RETURNS void
    LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off
    SET enable_seqscan = off
    AS $fn$
BEGIN
    WITH dl AS (
        SELECT t.kd, t.h, t.o, t.k, t.m, sum(t.d)::integer AS d
        FROM unnest(p_kinds, p_hosts, p_homes, p_keys, p_months, p_days) AS t(kd, h, o, k, m, d)
        -- no visitor scope (host, every home club): it is (host, home) row for row (0010)
        WHERE t.kd <> 'v' OR t.h = '00000000-0000-0000-0000-000000000000'
           OR t.o <> '00000000-0000-0000-0000-000000000000'
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(t.d) <> 0),
    -- each changed row after the change, with its ctid when it exists (a primary-key probe)
    ch AS MATERIALIZED (
        SELECT dl.kd, dl.h, dl.o, dl.k, dl.m, coalesce(e.days, 0) + dl.d AS days, e.tid
        FROM dl LEFT JOIN LATERAL (
            SELECT y.days, y.ctid AS tid FROM analytics.key_months y
            WHERE y.kind = dl.kd AND y.host_club_id = dl.h AND y.home_club_id = dl.o
              AND y.member_key = dl.k AND y.month = dl.m) e ON true),
    -- the keys whose months change (a row new or gone): their months before, read once
    sk AS (
        SELECT c.kd, c.h, c.o, c.added, coalesce(c.removed, '{}') AS removed,
               ARRAY(SELECT y.month FROM analytics.key_months y
                     WHERE y.kind = c.kd AND y.host_club_id = c.h AND y.home_club_id = c.o
                       AND y.member_key = c.k) AS bm
        FROM (SELECT kd, h, o, k,
                     array_agg(m) FILTER (WHERE tid IS NULL AND days > 0) AS added,
                     array_agg(m) FILTER (WHERE tid IS NOT NULL AND days <= 0) AS removed
              FROM ch GROUP BY 1, 2, 3, 4) c
        WHERE c.added IS NOT NULL OR c.removed IS NOT NULL),
    -- their (month, prev) pairs before (-1) and after (+1)
    pr AS (
        SELECT sk.kd, sk.h, sk.o, x.m, x.p, x.s
        FROM sk CROSS JOIN LATERAL (
            SELECT b.m, coalesce(lag(b.m) OVER (ORDER BY b.m), '-infinity') AS p, -1 AS s
            FROM unnest(sk.bm) b(m)
            UNION ALL
            SELECT a.m, coalesce(lag(a.m) OVER (ORDER BY a.m), '-infinity'), 1
            FROM (SELECT b.m FROM unnest(sk.bm) b(m) WHERE b.m <> ALL (sk.removed)
                  UNION ALL
                  SELECT a.m FROM unnest(sk.added) a(m)) a) x),
    cn AS (SELECT kd, h, o, m, p, sum(s)::integer AS n FROM pr
           GROUP BY 1, 2, 3, 4, 5 HAVING sum(s) <> 0),
    ct AS MATERIALIZED (
        SELECT cn.kd, cn.h, cn.o, cn.m, cn.p, coalesce(e.keys, 0) + cn.n AS keys, e.tid
        FROM cn LEFT JOIN LATERAL (
            SELECT y.keys, y.ctid AS tid FROM analytics.key_month_counts y
            WHERE y.kind = cn.kd AND y.host_club_id = cn.h AND y.home_club_id = cn.o
              AND y.month = cn.m AND y.prev = cn.p) e ON true),
    kdel AS (DELETE FROM analytics.key_months
             WHERE ctid = ANY (ARRAY(SELECT tid FROM ch WHERE tid IS NOT NULL AND days <= 0))),
    kupd AS (UPDATE analytics.key_months y SET days = ch.days
             FROM ch WHERE y.ctid = ch.tid AND ch.days > 0),
    kins AS (INSERT INTO analytics.key_months (kind, host_club_id, home_club_id, member_key,
                 month, days)
             SELECT kd, h, o, k, m, days FROM ch WHERE tid IS NULL AND days > 0),
    cdel AS (DELETE FROM analytics.key_month_counts
             WHERE ctid = ANY (ARRAY(SELECT tid FROM ct WHERE tid IS NOT NULL AND keys <= 0))),
    cupd AS (UPDATE analytics.key_month_counts y SET keys = ct.keys
             FROM ct WHERE y.ctid = ct.tid AND ct.keys > 0)
    INSERT INTO analytics.key_month_counts (kind, host_club_id, home_club_id, month, prev, keys)
    SELECT kd, h, o, m, p, keys FROM ct WHERE tid IS NULL AND keys > 0;
END
$fn$;

-- The daily_visits change of visits rows o (before; only visits also in n count) -> n (after),
-- written and handed to month_delta (rows before, rows after); rows written as the probe found them.
CREATE OR REPLACE FUNCTION analytics.visit_day_delta(o analytics.visits[], n analytics.visits[])
    RETURNS void
    LANGUAGE plpgsql
    -- every table read here is a probe (by primary key, by ctid, visits_member_idx): a custom
    -- plan of a young table otherwise joins the UPDATE's ctids to a sequential scan (0010)
    SET enable_seqscan = off
    AS $fn$
DECLARE
    monthly constant boolean := analytics.monthly_on();
    v_old analytics.daily_visits[];
    v_new analytics.daily_visits[];
    v_del tid[];
    -- the changed rows that exist (updated by ctid) and those that do not (inserted)
    v_upd analytics.daily_visits[];
    v_upd_tid tid[];
    v_ins analytics.daily_visits[];
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
    INTO v_old, v_new, v_del, v_upd, v_upd_tid, v_ins, v_kd, v_kh, v_kho, v_k, v_km, v_ks, v_ah,
         v_aho, v_am, v_as, v_an
    FROM (SELECT array_agg(before) FILTER (WHERE tid IS NOT NULL),
                 array_agg(after) FILTER (WHERE (after).requested > 0),
                 array_agg(tid) FILTER (WHERE tid IS NOT NULL AND (after).requested = 0),
                 array_agg(after) FILTER (WHERE tid IS NOT NULL AND (after).requested > 0),
                 array_agg(tid) FILTER (WHERE tid IS NOT NULL AND (after).requested > 0),
                 array_agg(after) FILTER (WHERE tid IS NULL AND (after).requested > 0)
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
    -- found by the probe: updated by ctid; not found: inserted (one ingest at a time)
    IF v_upd IS NOT NULL THEN
        UPDATE analytics.daily_visits y SET
            requested = (u.r).requested, approved = (u.r).approved,
            declined = (u.r).declined, confirmed = (u.r).confirmed,
            checked_in = (u.r).checked_in, completed = (u.r).completed,
            no_show = (u.r).no_show, cancelled = (u.r).cancelled,
            visits = (u.r).visits, visitor_days = (u.r).visitor_days,
            visitor_nights = (u.r).visitor_nights, guests = (u.r).guests,
            lead_0_1 = (u.r).lead_0_1, lead_2_7 = (u.r).lead_2_7, lead_8 = (u.r).lead_8,
            approve_secs = (u.r).approve_secs, member_keys = (u.r).member_keys
        FROM (SELECT unnest(v_upd) AS r, unnest(v_upd_tid) AS t) u
        WHERE y.ctid = u.t;
    END IF;
    IF v_ins IS NOT NULL THEN
        INSERT INTO analytics.daily_visits SELECT * FROM unnest(v_ins);
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
