-- analytics 0020: no key_months row per visitor and month (docs/analytics.md "Ingest: visitor
-- months from the visits table (stop 25)").
--   Each new visitor-month wrote a key_months row (kind 'v': heap tuple and a primary-key entry
--   of ~110 bytes) besides its key_month_counts changes, and each changed key was probed there
--   twice (its row, then all its rows). The visits table holds the same facts: a member key is
--   in a daily row exactly when one of its visits there counts (checked_in, completed), and
--   visits_member_idx (home club, key) finds a key's visits. So:
--   apply_visitors      key_month_counts' visitor counts from the keys that entered or left
--                       daily rows, each key's months read from its visits (one probe), no
--                       key_months row (visit_day_delta and month_delta call it; apply_keys
--                       keeps the usage keys, kind 'u')
--   rebuild_monthly_sums  the visitor counts from the daily rows' keys directly
--   club_report         an edge day's key probed in visits (read policy visits_read: the rows
--                       of the reader's club, as daily_visits_read); reports.c's network report
--                       likewise
--   Same counts, same reports; key_months keeps kind 'u' only.
SELECT set_config('app.relay', 'on', true); -- the rows are behind row level security
DELETE FROM analytics.key_months WHERE kind = 'v';
CREATE POLICY visits_read ON analytics.visits FOR SELECT
    USING (host_club_id = core.current_club() OR home_club_id = core.current_club()
           OR core.is_network_admin());

-- The visitor counts (key_month_counts, kind 'v') from the keys that entered (+1) or left (-1)
-- daily rows (host, home, day, facility, category). A key is in a daily row exactly when one of
-- its visits (visits: home club, key, host, arrival, facility, category) counts (checked_in,
-- completed), so the key's daily rows after the change are its counting visits' rows (one
-- probe of visits_member_idx per key), and before it the same minus the rows it entered plus
-- the rows it left. Its months per host and over the hosts before and after give the (month,
-- prev) counts' changes, as apply_keys computed them from the key's key_months rows.
CREATE FUNCTION analytics.apply_visitors(p_hosts uuid[], p_homes uuid[], p_days date[],
                                         p_facs text[], p_cats text[], p_keys text[],
                                         p_signs integer[])
    RETURNS void
    LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off
    SET enable_seqscan = off
    AS $fn$
BEGIN
    WITH rk AS MATERIALIZED (
        SELECT t.h, t.o, t.d, t.f, t.c, t.k, sum(t.s)::integer AS s
        FROM unnest(p_hosts, p_homes, p_days, p_facs, p_cats, p_keys, p_signs)
            AS t(h, o, d, f, c, k, s)
        GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(t.s) <> 0),
    -- per key and (host, month): a = its daily rows after (its counting visits' distinct rows),
    -- ds = rows entered minus rows left; before = a - ds
    pm AS (
        SELECT o, k, h, m, sum(a)::integer AS a, sum(ds)::integer AS ds
        FROM (SELECT v.o, v.k, v.h, date_trunc('month', v.d)::date AS m, 1 AS a, 0 AS ds
              FROM (SELECT DISTINCT kk.o, kk.k, y.host_club_id AS h, y.arrive_on AS d,
                           y.facility AS f, y.category AS c
                    FROM (SELECT DISTINCT o, k FROM rk) kk CROSS JOIN LATERAL (
                        SELECT y.host_club_id, y.arrive_on, y.facility, y.category
                        FROM analytics.visits y
                        WHERE y.home_club_id = kk.o AND y.member_key = kk.k
                          AND y.status IN ('checked_in', 'completed')
                        OFFSET 0) y) v
              UNION ALL
              SELECT o, k, h, date_trunc('month', d)::date, 0, s FROM rk) x
        GROUP BY 1, 2, 3, 4),
    sc AS (SELECT -1 AS s, o, k, h, m FROM pm WHERE a - ds > 0
           UNION ALL
           SELECT 1, o, k, h, m FROM pm WHERE a > 0),
    -- their (month, prev) pairs before and after: per host, and at every host (the key's
    -- distinct months)
    pr AS (SELECT h, o, m,
                  coalesce(lag(m) OVER (PARTITION BY s, o, k, h ORDER BY m), '-infinity') AS p, s
           FROM sc
           UNION ALL
           SELECT '00000000-0000-0000-0000-000000000000'::uuid, o, m,
                  coalesce(lag(m) OVER (PARTITION BY s, o, k ORDER BY m), '-infinity'), s
           FROM (SELECT DISTINCT s, o, k, m FROM sc) d),
    cn AS (SELECT h, o, m, p, sum(s)::integer AS n FROM pr
           GROUP BY 1, 2, 3, 4 HAVING sum(s) <> 0),
    ct AS MATERIALIZED (
        SELECT cn.h, cn.o, cn.m, cn.p, coalesce(e.keys, 0) + cn.n AS keys, e.tid
        FROM cn LEFT JOIN LATERAL (
            SELECT y.keys, y.ctid AS tid FROM analytics.key_month_counts y
            WHERE y.kind = 'v' AND y.host_club_id = cn.h AND y.home_club_id = cn.o
              AND y.month = cn.m AND y.prev = cn.p) e ON true),
    cdel AS (DELETE FROM analytics.key_month_counts
             WHERE ctid = ANY (ARRAY(SELECT tid FROM ct WHERE tid IS NOT NULL AND keys <= 0))),
    cupd AS (UPDATE analytics.key_month_counts y SET keys = ct.keys
             FROM ct WHERE y.ctid = ct.tid AND ct.keys > 0)
    INSERT INTO analytics.key_month_counts (kind, host_club_id, home_club_id, month, prev, keys)
    SELECT 'v', h, o, m, p, keys FROM ct WHERE tid IS NULL AND keys > 0;
END
$fn$;

CREATE OR REPLACE FUNCTION analytics.month_delta(o analytics.daily_visits[], n analytics.daily_visits[])
    RETURNS void
    LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off SET enable_seqscan = off
    AS $fn$
DECLARE
    v_md analytics.monthly_visits[];
    v_h uuid[]; v_ho uuid[]; v_k text[]; v_m date[]; v_d integer[]; v_sec integer[];
    v_dy date[]; v_f text[]; v_c text[];
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
        FROM sg GROUP BY 1, 2, 3)
    SELECT array_agg(ROW(dl.h, dl.ho, dl.m, dl.days::integer, dl.requested::integer,
                         dl.approved::integer, dl.declined::integer, dl.confirmed::integer,
                         dl.checked_in::integer, dl.completed::integer, dl.no_show::integer,
                         dl.cancelled::integer, dl.visits::integer, dl.visitor_days::integer,
                         dl.visitor_nights::integer, dl.guests::integer, dl.lead_0_1::integer,
                         dl.lead_2_7::integer, dl.lead_8::integer,
                         dl.dow::integer[])::analytics.monthly_visits)
    INTO v_md FROM dl;
    PERFORM analytics.month_visits_add(v_md);
    -- approval delays
    SELECT array_agg(x.host_club_id), array_agg(x.home_club_id),
           array_agg(date_trunc('month', x.day)::date), array_agg(a), array_agg(x.s)
    INTO v_h, v_ho, v_m, v_sec, v_d
    FROM (SELECT -1 AS s, y.* FROM unnest(o) y UNION ALL SELECT 1, y.* FROM unnest(n) y) x
    CROSS JOIN LATERAL unnest(x.approve_secs) a;
    IF v_h IS NOT NULL THEN
        PERFORM analytics.apply_approvals(v_h, v_ho, v_m, v_sec, v_d);
    END IF;
    -- visitors: the keys that entered (+1) or left (-1) each daily row (apply_visitors nets a
    -- row's old and new arrays; 0020: no key_months rows)
    SELECT array_agg(x.host_club_id), array_agg(x.home_club_id), array_agg(x.day),
           array_agg(x.facility), array_agg(x.category), array_agg(key), array_agg(x.s)
    INTO v_h, v_ho, v_dy, v_f, v_c, v_k, v_d
    FROM (SELECT -1 AS s, y.* FROM unnest(o) y UNION ALL SELECT 1, y.* FROM unnest(n) y) x
    CROSS JOIN LATERAL unnest(x.member_keys) key;
    IF v_h IS NOT NULL THEN
        PERFORM analytics.apply_visitors(v_h, v_ho, v_dy, v_f, v_c, v_k, v_d);
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION analytics.visit_day_delta(o analytics.visits[], n analytics.visits[])
    RETURNS void
    LANGUAGE plpgsql
    -- every table read here is a probe (by primary key, by ctid, visits_member_idx): a custom
    -- plan of a young table otherwise joins the UPDATE's ctids to a sequential scan (0010)
    SET enable_seqscan = off
    AS $fn$
DECLARE
    monthly constant boolean := analytics.monthly_on();
    v_md analytics.monthly_visits[]; -- the month rows' changes (days and counters)
    v_del tid[];
    -- the changed rows that exist (updated by ctid) and those that do not (inserted)
    v_upd analytics.daily_visits[];
    v_upd_tid tid[];
    v_ins analytics.daily_visits[];
    -- key changes (kind, host, home, key, month, +1/-1) and approval delays (host, home, month,
    -- seconds, +1/-1) for the monthly level
    v_kh uuid[]; v_kho uuid[]; v_kdy date[]; v_kf text[]; v_kc text[]; v_k text[];
    v_ks integer[];
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
               -- the row's counter deltas (the month level's change)
               dl.requested AS d_requested, dl.approved AS d_approved, dl.declined AS d_declined,
               dl.confirmed AS d_confirmed, dl.checked_in AS d_checked_in,
               dl.completed AS d_completed, dl.no_show AS d_no_show, dl.cancelled AS d_cancelled,
               dl.visits AS d_visits, dl.visitor_days AS d_visitor_days,
               dl.visitor_nights AS d_visitor_nights, dl.guests AS d_guests,
               dl.lead_0_1 AS d_lead_0_1, dl.lead_2_7 AS d_lead_2_7, dl.lead_8 AS d_lead_8,
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
        SELECT x.s, ch.h, ch.ho, ch.d, (ch.after).facility AS f, (ch.after).category AS ct, x.k
        FROM ch CROSS JOIN LATERAL (
            SELECT 1 AS s, k FROM unnest(ch.add_keys) k
            WHERE k <> ALL (coalesce((ch.before).member_keys, '{}'))
            UNION ALL
            SELECT -1, k FROM unnest(ch.old_keys) k WHERE k <> ALL ((ch.after).member_keys)) x
        WHERE ch.before IS DISTINCT FROM ch.after)
    SELECT md.*, r.*, k.*, a.*
    INTO v_md, v_del, v_upd, v_upd_tid, v_ins, v_kh, v_kho, v_kdy, v_kf, v_kc, v_k, v_ks,
         v_ah, v_aho, v_am, v_as, v_an
    FROM -- the month level's change: the changed rows' counter deltas summed per month, days
         -- +1 for a row inserted and -1 for a row deleted (a daily row is the sum of its visits:
         -- what month_delta computed from the rows before and after, without the rows)
         (SELECT array_agg(ROW(m.h, m.ho, m.m, m.days, m.requested, m.approved, m.declined,
                               m.confirmed, m.checked_in, m.completed, m.no_show, m.cancelled,
                               m.visits, m.visitor_days, m.visitor_nights, m.guests, m.lead_0_1,
                               m.lead_2_7, m.lead_8, m.dow)::analytics.monthly_visits)
          FROM (SELECT ch.h, ch.ho, date_trunc('month', ch.d)::date AS m,
                       sum(CASE WHEN ch.tid IS NULL THEN 1
                                WHEN (ch.after).requested = 0 THEN -1 ELSE 0 END)::integer
                           AS days,
                       sum(ch.d_requested)::integer AS requested,
                       sum(ch.d_approved)::integer AS approved,
                       sum(ch.d_declined)::integer AS declined,
                       sum(ch.d_confirmed)::integer AS confirmed,
                       sum(ch.d_checked_in)::integer AS checked_in,
                       sum(ch.d_completed)::integer AS completed,
                       sum(ch.d_no_show)::integer AS no_show,
                       sum(ch.d_cancelled)::integer AS cancelled,
                       sum(ch.d_visits)::integer AS visits,
                       sum(ch.d_visitor_days)::integer AS visitor_days,
                       sum(ch.d_visitor_nights)::integer AS visitor_nights,
                       sum(ch.d_guests)::integer AS guests,
                       sum(ch.d_lead_0_1)::integer AS lead_0_1,
                       sum(ch.d_lead_2_7)::integer AS lead_2_7,
                       sum(ch.d_lead_8)::integer AS lead_8,
                       ARRAY[coalesce(sum(ch.d_visits) FILTER (WHERE ch.w = 1), 0)::integer,
                             coalesce(sum(ch.d_visits) FILTER (WHERE ch.w = 2), 0)::integer,
                             coalesce(sum(ch.d_visits) FILTER (WHERE ch.w = 3), 0)::integer,
                             coalesce(sum(ch.d_visits) FILTER (WHERE ch.w = 4), 0)::integer,
                             coalesce(sum(ch.d_visits) FILTER (WHERE ch.w = 5), 0)::integer,
                             coalesce(sum(ch.d_visits) FILTER (WHERE ch.w = 6), 0)::integer,
                             coalesce(sum(ch.d_visits) FILTER (WHERE ch.w = 7), 0)::integer]
                           AS dow
                -- a row new in the batch with no visit left (requested 0) is neither written
                -- nor counted; w: the day's ISO weekday
                FROM (SELECT ch.*, extract(isodow FROM ch.d)::integer AS w FROM ch
                      WHERE ch.before IS DISTINCT FROM ch.after
                        AND (ch.tid IS NOT NULL OR (ch.after).requested > 0)) ch
                GROUP BY 1, 2, 3) m) md,
         (SELECT array_agg(tid) FILTER (WHERE tid IS NOT NULL AND (after).requested = 0),
                 array_agg(after) FILTER (WHERE tid IS NOT NULL AND (after).requested > 0),
                 array_agg(tid) FILTER (WHERE tid IS NOT NULL AND (after).requested > 0),
                 array_agg(after) FILTER (WHERE tid IS NULL AND (after).requested > 0)
          FROM ch WHERE before IS DISTINCT FROM after) r,
         -- the keys entering or leaving each changed row: apply_visitors' input (0020)
         (SELECT array_agg(kd.h), array_agg(kd.ho), array_agg(kd.d), array_agg(kd.f),
                 array_agg(kd.ct), array_agg(kd.k), array_agg(kd.s)
          FROM kd) k,
         -- the approval delays the visits took out and put in (apply_approvals nets them)
         (SELECT array_agg(c.h), array_agg(c.ho), array_agg(date_trunc('month', c.d)::date),
                 array_agg(c.secs), array_agg(c.s)
          FROM c WHERE c.secs IS NOT NULL) a;
    IF v_md IS NULL THEN
        RETURN;
    END IF;
    -- the rows written with the monthly triggers off, then the month rows by their changes
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
        PERFORM analytics.month_visits_add(v_md);
        IF v_kh IS NOT NULL THEN
            PERFORM analytics.apply_visitors(v_kh, v_kho, v_kdy, v_kf, v_kc, v_k, v_ks);
        END IF;
        IF v_ah IS NOT NULL THEN
            PERFORM analytics.apply_approvals(v_ah, v_aho, v_am, v_as, v_an);
        END IF;
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION analytics.rebuild_monthly_sums() RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    DELETE FROM analytics.monthly_visits;
    INSERT INTO analytics.monthly_visits
    SELECT host_club_id, home_club_id, date_trunc('month', day)::date, count(*), sum(requested),
           sum(approved), sum(declined), sum(confirmed), sum(checked_in), sum(completed),
           sum(no_show), sum(cancelled), sum(visits), sum(visitor_days), sum(visitor_nights),
           sum(guests), sum(lead_0_1), sum(lead_2_7), sum(lead_8)
    FROM analytics.daily_visits GROUP BY 1, 2, 3;
    DELETE FROM analytics.monthly_money;
    INSERT INTO analytics.monthly_money
    SELECT host_club_id, home_club_id, date_trunc('month', day)::date, currency, count(*),
           sum(amount_minor), sum(charges)
    FROM analytics.daily_money GROUP BY 1, 2, 3, 4;
    DELETE FROM analytics.monthly_usage;
    INSERT INTO analytics.monthly_usage
    SELECT club_id, date_trunc('month', day)::date, count(*), sum(sign_ins)
    FROM analytics.daily_usage GROUP BY 1, 2;
    DELETE FROM analytics.monthly_rooms;
    INSERT INTO analytics.monthly_rooms
    SELECT host_club_id, home_club_id, date_trunc('month', night)::date, count(*), sum(rooms)
    FROM analytics.daily_rooms GROUP BY 1, 2, 3;
    DELETE FROM analytics.approve_months;
    INSERT INTO analytics.approve_months
    SELECT d.host_club_id, h.home, date_trunc('month', d.day)::date, x, count(*)
    FROM analytics.daily_visits d CROSS JOIN LATERAL unnest(d.approve_secs) x
    CROSS JOIN LATERAL (VALUES (d.home_club_id),
                               ('00000000-0000-0000-0000-000000000000'::uuid)) h(home)
    GROUP BY 1, 2, 3, 4;
    DELETE FROM analytics.approve_buckets;
    INSERT INTO analytics.approve_buckets
    SELECT host_club_id, home_club_id, month, floor(secs / 1024.0)::integer, sum(n)
    FROM analytics.approve_months GROUP BY 1, 2, 3, 4;
    DELETE FROM analytics.key_months;
    -- usage keys only: a visitor key's months are its daily rows' (0020)
    INSERT INTO analytics.key_months
    SELECT 'u', d.club_id, '00000000-0000-0000-0000-000000000000'::uuid, k,
           date_trunc('month', d.day)::date, count(*)
    FROM analytics.daily_usage d CROSS JOIN LATERAL unnest(d.member_keys) k
    GROUP BY 1, 2, 3, 4, 5;
    DELETE FROM analytics.key_month_counts;
    INSERT INTO analytics.key_month_counts
    SELECT kind, host_club_id, home_club_id, month, prev, count(*)
    FROM (SELECT kind, host_club_id, home_club_id, month,
                 coalesce(lag(month) OVER (PARTITION BY kind, host_club_id, home_club_id,
                                           member_key ORDER BY month), '-infinity') AS prev
          FROM analytics.key_months) s
    GROUP BY 1, 2, 3, 4, 5;
    -- visitors at (host, home) and at (every host, home): a key's distinct months in the daily
    -- rows, per host and over the hosts (0020: no key_months rows)
    INSERT INTO analytics.key_month_counts
    SELECT 'v', h, home_club_id, month, prev, count(*)
    FROM (SELECT h, home_club_id, month,
                 coalesce(lag(month) OVER (PARTITION BY h, home_club_id, member_key ORDER BY month),
                          '-infinity') AS prev
          FROM (SELECT DISTINCT d.host_club_id AS h, d.home_club_id, k AS member_key,
                       date_trunc('month', d.day)::date AS month
                FROM analytics.daily_visits d CROSS JOIN LATERAL unnest(d.member_keys) k
                UNION
                SELECT DISTINCT '00000000-0000-0000-0000-000000000000'::uuid, d.home_club_id, k,
                       date_trunc('month', d.day)::date
                FROM analytics.daily_visits d CROSS JOIN LATERAL unnest(d.member_keys) k) x) s
    GROUP BY 1, 2, 3, 4, 5;
END
$fn$;

CREATE OR REPLACE FUNCTION analytics.club_report(p_club uuid, p_from date, p_to date, p_period text,
                                      p_date date, p_partner uuid, p_top integer) RETURNS text
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_generic_plan
    SET jit = off
    AS $fn$
DECLARE
    v_tz text := coalesce((SELECT timezone FROM analytics.clubs WHERE club_id = p_club), 'UTC');
    v_a timestamp;
    v_f date;
    v_t date;
    v_lf date;
    v_lt date;
    v_yf date;
    v_tf date;
    v_lo date;
    v_wf date;
    v_we date;
    v_pt uuid := nullif(p_partner, p_club);
    v_nil uuid := '00000000-0000-0000-0000-000000000000';
    -- the partner scope of the monthly level: the partner, or nil = every partner (a plain
    -- parameter: an expression is not an index condition under row level security)
    v_ps uuid := coalesce(nullif(p_partner, p_club), '00000000-0000-0000-0000-000000000000');
BEGIN
    v_a := coalesce(p_date, (now() AT TIME ZONE v_tz)::date)::timestamp;
    v_f := coalesce(p_from, date_trunc(p_period, v_a)::date);
    v_t := coalesce(p_to, (date_trunc(p_period, v_a) + ('1 ' || p_period)::interval)::date - 1);
    v_lf := (v_f - interval '1 year')::date;
    v_lt := (v_t - interval '1 year')::date;
    v_yf := (date_trunc('month', v_t) - interval '11 months')::date;
    v_tf := (v_t - interval '1 year')::date + 1;
    v_lo := least(v_lf, (v_yf - interval '1 year')::date);
    v_wf := (date_trunc('month', v_f - 1) + interval '1 month')::date;
    v_we := date_trunc('month', v_t + 1)::date;
    RETURN (
    WITH z AS (SELECT v_tz AS tz),
    r AS (SELECT v_f AS f, v_t AS t, v_lf AS lf, v_lt AS lt, v_yf AS yf, v_tf AS tf),
    w AS (SELECT r.*, v_lo AS lo, v_wf AS wf, v_we AS we, v_pt AS pt, v_nil AS nil FROM r),
    sp AS (SELECT DISTINCT date_trunc('month', b)::date AS m FROM w, unnest(ARRAY[v_f, v_t + 1,
        v_lf, v_lt + 1, v_tf, v_lo]) b WHERE b <> date_trunc('month', b)),
    v AS (SELECT x.* FROM sp CROSS JOIN LATERAL (SELECT dv.host_club_id, dv.home_club_id, dv.day,
        requested, approved, declined, confirmed, checked_in, completed, no_show, cancelled,
        visits, visitor_days, visitor_nights, guests, lead_0_1, lead_2_7, lead_8 FROM
        analytics.daily_visits dv WHERE dv.day >= greatest(sp.m, v_lo) AND dv.day < (sp.m +
        interval '1 month')::date AND dv.day <= v_t AND (dv.host_club_id = p_club OR
        dv.home_club_id = p_club) AND (p_partner IS NULL OR dv.host_club_id = p_partner OR
        dv.home_club_id = p_partner) OFFSET 0) x UNION ALL SELECT mv.host_club_id,
        mv.home_club_id, mv.month, requested, approved, declined, confirmed, checked_in,
        completed, no_show, cancelled, visits, visitor_days, visitor_nights, guests, lead_0_1,
        lead_2_7, lead_8 FROM w, analytics.monthly_visits mv WHERE mv.month >= v_lo AND mv.month
        <= v_t AND mv.month NOT IN (SELECT m FROM sp) AND (mv.host_club_id = p_club OR
        mv.home_club_id = p_club) AND (p_partner IS NULL OR mv.host_club_id = p_partner OR
        mv.home_club_id = p_partner)),
    vr AS (SELECT v.* FROM v, r WHERE v.day BETWEEN v_f AND v_t),
    mo AS (SELECT x.* FROM sp CROSS JOIN LATERAL (SELECT dm.host_club_id, dm.home_club_id, dm.day,
        dm.currency, dm.amount_minor FROM analytics.daily_money dm WHERE dm.day >= greatest(sp.m,
        v_lf) AND dm.day < (sp.m + interval '1 month')::date AND dm.day <= v_t AND
        (dm.host_club_id = p_club OR dm.home_club_id = p_club) AND (p_partner IS NULL OR
        dm.host_club_id = p_partner OR dm.home_club_id = p_partner) OFFSET 0) x UNION ALL SELECT
        mm.host_club_id, mm.home_club_id, mm.month, mm.currency, mm.amount_minor FROM w,
        analytics.monthly_money mm WHERE mm.month >= v_lf AND mm.month <= v_t AND mm.month NOT IN
        (SELECT m FROM sp) AND (mm.host_club_id = p_club OR mm.home_club_id = p_club) AND
        (p_partner IS NULL OR mm.host_club_id = p_partner OR mm.home_club_id = p_partner)),
    mr AS (SELECT mo.* FROM mo, r WHERE mo.day BETWEEN v_f AND v_t),
    tin AS (SELECT coalesce(sum(requested), 0) AS requested, coalesce(sum(approved), 0) AS
        approved, coalesce(sum(declined), 0) AS declined, coalesce(sum(confirmed), 0) AS
        confirmed, coalesce(sum(checked_in), 0) AS checked_in, coalesce(sum(completed), 0) AS
        completed, coalesce(sum(no_show), 0) AS no_show, coalesce(sum(cancelled), 0) AS cancelled,
        coalesce(sum(visits), 0) AS visits, coalesce(sum(visitor_days), 0) AS visitor_days,
        coalesce(sum(visitor_nights), 0) AS visitor_nights, coalesce(sum(guests), 0) AS guests,
        coalesce(sum(lead_0_1), 0) AS l01, coalesce(sum(lead_2_7), 0) AS l27,
        coalesce(sum(lead_8), 0) AS l8 FROM vr WHERE host_club_id = p_club),
    tout AS (SELECT coalesce(sum(visits), 0) AS visits, coalesce(sum(visitor_days), 0) AS
        visitor_days, coalesce(sum(visitor_nights), 0) AS visitor_nights, coalesce(sum(guests), 0)
        AS guests, coalesce(sum(requested), 0) AS requested FROM vr WHERE home_club_id = p_club),
    ed AS (SELECT dv.host_club_id, dv.home_club_id, dv.member_keys, dv.approve_secs FROM w,
        analytics.daily_visits dv WHERE (v_f < v_wf OR v_we <= v_t) AND ((dv.day >= v_f AND dv.day
        < least(v_wf, v_t + 1)) OR (dv.day >= greatest(v_we, v_wf) AND dv.day <= v_t)) AND
        (dv.host_club_id = p_club OR dv.home_club_id = p_club) AND (p_partner IS NULL OR
        dv.host_club_id = p_partner OR dv.home_club_id = p_partner)),
    -- visitors out without a partner: at (every host, club) in key_month_counts; visitors in:
    -- at (club, partner), or summed over the club's (club, home) rows -- a member key belongs
    -- to one home club (0010: no (club, every home club) scope); an edge day's key is counted
    -- when no visit of it that counts falls in the whole months (0020: probed in visits through
    -- visits_member_idx, at the club as host, or at any host / the partner for visitors out)
    uin AS (SELECT CASE WHEN v_pt IS NULL THEN (SELECT coalesce(sum(c.keys), 0) FROM
        analytics.key_month_counts c WHERE c.kind = 'v' AND c.host_club_id = p_club AND c.month
        >= v_wf AND c.month < v_we AND c.prev < v_wf) ELSE (SELECT coalesce(sum(c.keys), 0) FROM
        analytics.key_month_counts c WHERE c.kind = 'v' AND c.host_club_id = p_club AND
        c.home_club_id = v_pt AND c.month >= v_wf AND c.month < v_we AND c.prev < v_wf) END +
        (SELECT count(DISTINCT e.k) FROM (SELECT DISTINCT ed.home_club_id AS o, k FROM ed,
        unnest(ed.member_keys) k WHERE ed.host_club_id = p_club) e WHERE NOT EXISTS (SELECT 1 FROM
        analytics.visits vv WHERE vv.home_club_id = e.o AND vv.member_key = e.k AND
        vv.host_club_id = p_club AND vv.arrive_on >= v_wf AND vv.arrive_on < v_we AND
        vv.status IN ('checked_in', 'completed')))
        AS n FROM w),
    uout AS (SELECT (SELECT coalesce(sum(c.keys), 0) FROM analytics.key_month_counts c WHERE
        c.kind = 'v' AND c.host_club_id = v_ps AND c.home_club_id = p_club AND
        c.month >= v_wf AND c.month < v_we AND c.prev < v_wf) + (SELECT count(*) FROM (SELECT
        DISTINCT k FROM ed, unnest(ed.member_keys) k WHERE ed.home_club_id = p_club) e WHERE NOT
        EXISTS (SELECT 1 FROM analytics.visits vv WHERE vv.home_club_id = p_club AND
        vv.member_key = e.k AND (v_ps = v_nil OR vv.host_club_id = v_ps) AND vv.arrive_on >=
        v_wf AND vv.arrive_on < v_we AND vv.status IN ('checked_in', 'completed'))) AS n FROM
        w),
    ea AS (SELECT s FROM ed, unnest(ed.approve_secs) s WHERE ed.host_club_id = p_club),
    hb AS (SELECT b, sum(n) AS n FROM (SELECT ab.bucket AS b, ab.n FROM w,
        analytics.approve_buckets ab WHERE ab.host_club_id = p_club AND ab.home_club_id =
        v_ps AND ab.month >= v_wf AND ab.month < v_we UNION ALL SELECT floor(s /
        1024.0)::integer, 1 FROM ea) x GROUP BY b),
    hk AS (SELECT b, n, (sum(n) OVER (ORDER BY b))::bigint AS cum, (sum(n) OVER ())::bigint AS tot
        FROM hb),
    pk AS (SELECT b, (tot + 1) / 2 - (cum - n) AS rk FROM hk WHERE cum >= (tot + 1) / 2 ORDER BY b
        LIMIT 1),
    fv AS (SELECT x.s, sum(x.n) AS n FROM (SELECT am.s, am.n FROM w, pk, generate_series(v_wf,
        v_we - 1, interval '1 month') g CROSS JOIN LATERAL (SELECT a.secs AS s, a.n FROM
        analytics.approve_months a WHERE a.host_club_id = p_club AND a.home_club_id =
        v_ps AND a.month = g::date AND a.secs >= pk.b * 1024 AND a.secs < pk.b *
        1024 + 1024 OFFSET 0) am UNION ALL SELECT ea.s, 1 FROM ea, pk WHERE floor(ea.s / 1024.0) =
        pk.b) x GROUP BY x.s),
    med AS (SELECT (SELECT y.s FROM (SELECT s, (sum(n) OVER (ORDER BY s))::bigint AS cum FROM fv)
        y, pk WHERE y.cum >= pk.rk ORDER BY y.s LIMIT 1) AS m),
    cur AS (SELECT jsonb_agg(jsonb_build_object('currency', currency, 'amount_minor', amt) ORDER
        BY currency) FILTER (WHERE side = 'h') AS rev, jsonb_agg(jsonb_build_object('currency',
        currency, 'amount_minor', amt) ORDER BY currency) FILTER (WHERE side = 'o') AS spend FROM
        (SELECT CASE WHEN host_club_id = p_club THEN 'h' ELSE 'o' END AS side, currency,
        sum(amount_minor) AS amt FROM mr GROUP BY 1, 2) s),
    pv AS (SELECT CASE WHEN host_club_id = p_club THEN home_club_id ELSE host_club_id END AS p,
        coalesce(sum(visits) FILTER (WHERE host_club_id = p_club), 0) AS vin, coalesce(sum(visits)
        FILTER (WHERE home_club_id = p_club), 0) AS vout FROM vr GROUP BY 1),
    pm AS (SELECT CASE WHEN host_club_id = p_club THEN home_club_id ELSE host_club_id END AS p,
        currency, coalesce(sum(amount_minor) FILTER (WHERE host_club_id = p_club), 0) AS rev,
        coalesce(sum(amount_minor) FILTER (WHERE home_club_id = p_club), 0) AS spend FROM mr GROUP
        BY 1, 2),
    pp AS (SELECT p FROM pv UNION SELECT p FROM pm),
    part AS (SELECT pp.p, coalesce(pv.vin, 0) AS vin, coalesce(pv.vout, 0) AS vout,
        coalesce((SELECT jsonb_agg(jsonb_build_object('currency', pm.currency, 'revenue_minor',
        pm.rev, 'spend_minor', pm.spend, 'net_minor', pm.rev - pm.spend) ORDER BY pm.currency)
        FROM pm WHERE pm.p = pp.p), '[]') AS money FROM pp LEFT JOIN pv ON pv.p = pp.p), trail AS
        (SELECT CASE WHEN host_club_id = p_club THEN home_club_id ELSE host_club_id END AS p,
        coalesce(sum(visits) FILTER (WHERE host_club_id = p_club), 0) AS vin, coalesce(sum(visits)
        FILTER (WHERE home_club_id = p_club), 0) AS vout, coalesce(sum(requested), 0) AS req FROM
        v, r WHERE v.day BETWEEN v_tf AND v_t GROUP BY 1),
    mon AS (SELECT g::date AS m FROM r, generate_series(v_yf, v_t, interval '1 month') g),
    vm AS (SELECT date_trunc('month', day)::date AS m, coalesce(sum(visits) FILTER (WHERE
        host_club_id = p_club), 0) AS vin, coalesce(sum(visits) FILTER (WHERE home_club_id =
        p_club), 0) AS vout FROM v GROUP BY 1),
    seas AS (SELECT jsonb_agg(jsonb_build_object('month', to_char(mon.m, 'YYYY-MM'), 'visits_in',
        coalesce(a.vin, 0), 'visits_out', coalesce(a.vout, 0), 'last_year_in', coalesce(b.vin, 0),
        'last_year_out', coalesce(b.vout, 0)) ORDER BY mon.m) AS j FROM mon LEFT JOIN vm a ON a.m
        = mon.m LEFT JOIN vm b ON b.m = (mon.m - interval '1 year')::date),
    ly AS (SELECT coalesce(sum(visits) FILTER (WHERE host_club_id = p_club), 0) AS vin,
        coalesce(sum(visits) FILTER (WHERE home_club_id = p_club), 0) AS vout,
        coalesce(sum(requested) FILTER (WHERE host_club_id = p_club), 0) AS req FROM v, r WHERE
        v.day BETWEEN v_lf AND v_lt),
    lym AS (SELECT jsonb_agg(jsonb_build_object('currency', currency, 'revenue_minor', rev,
        'spend_minor', spend) ORDER BY currency) AS j FROM (SELECT currency,
        coalesce(sum(amount_minor) FILTER (WHERE host_club_id = p_club), 0) AS rev,
        coalesce(sum(amount_minor) FILTER (WHERE home_club_id = p_club), 0) AS spend FROM mo, r
        WHERE mo.day BETWEEN v_lf AND v_lt GROUP BY 1) s),
    us AS (SELECT (SELECT coalesce(sum(u.sign_ins), 0) FROM analytics.daily_usage u WHERE
        u.club_id = p_club AND (v_f < v_wf OR v_we <= v_t) AND ((u.day >= v_f AND u.day <
        least(v_wf, v_t + 1)) OR (u.day >= greatest(v_we, v_wf) AND u.day <= v_t))) + (SELECT
        coalesce(sum(mu.sign_ins), 0) FROM analytics.monthly_usage mu WHERE mu.club_id = p_club
        AND mu.month >= v_wf AND mu.month < v_we) AS sign_ins, (SELECT coalesce(sum(c.keys), 0)
        FROM analytics.key_month_counts c WHERE c.kind = 'u' AND c.host_club_id = p_club AND
        c.home_club_id = v_nil AND c.month >= v_wf AND c.month < v_we AND c.prev < v_wf) + (SELECT
        count(*) FROM (SELECT DISTINCT k FROM analytics.daily_usage u, unnest(u.member_keys) k
        WHERE u.club_id = p_club AND (v_f < v_wf OR v_we <= v_t) AND ((u.day >= v_f AND u.day <
        least(v_wf, v_t + 1)) OR (u.day >= greatest(v_we, v_wf) AND u.day <= v_t))) e WHERE NOT
        EXISTS (SELECT 1 FROM analytics.key_months km WHERE km.kind = 'u' AND km.host_club_id =
        p_club AND km.home_club_id = v_nil AND km.member_key = e.k AND km.month >= v_wf AND
        km.month < v_we)) AS active FROM w),
    rm AS (SELECT (SELECT rooms FROM analytics.capacity WHERE club_id = p_club) AS cap, (SELECT
        coalesce(sum(dr.rooms), 0) FROM analytics.daily_rooms dr WHERE dr.host_club_id = p_club
        AND (v_f < v_wf OR v_we <= v_t) AND ((dr.night >= v_f AND dr.night < least(v_wf, v_t + 1))
        OR (dr.night >= greatest(v_we, v_wf) AND dr.night <= v_t)) AND (p_partner IS NULL OR
        dr.home_club_id = p_partner)) + (SELECT coalesce(sum(mn.rooms), 0) FROM
        analytics.monthly_rooms mn WHERE mn.host_club_id = p_club AND mn.month >= v_wf AND
        mn.month < v_we AND (p_partner IS NULL OR mn.home_club_id = p_partner)) AS used, v_t - v_f
        + 1 AS nights FROM w) SELECT jsonb_build_object('club_id', p_club, 'timezone', v_tz,
        'from', v_f, 'to', v_t, 'partner', p_partner, 'visits_in', tin.visits, 'visits_out',
        tout.visits, 'unique_visitors_in', uin.n, 'unique_visitors_out', uout.n,
        'visitor_days_in', tin.visitor_days, 'visitor_nights_in', tin.visitor_nights,
        'visitor_days_out', tout.visitor_days, 'visitor_nights_out', tout.visitor_nights,
        'guests_in', tin.guests, 'guests_out', tout.guests, 'requests_in', tin.requested,
        'requests_out', tout.requested, 'statuses_in', jsonb_build_object('approved',
        tin.approved, 'declined', tin.declined, 'confirmed', tin.confirmed, 'checked_in',
        tin.checked_in, 'completed', tin.completed, 'no_show', tin.no_show, 'cancelled',
        tin.cancelled), 'no_show_rate', round(tin.no_show::numeric / nullif(tin.confirmed +
        tin.checked_in + tin.completed + tin.no_show, 0), 4), 'cancellation_rate',
        round(tin.cancelled::numeric / nullif(tin.requested, 0), 4), 'loi_approval_rate',
        round(tin.approved::numeric / nullif(tin.approved + tin.declined, 0), 4),
        'median_approve_seconds', med.m, 'lead_time', jsonb_build_object('0-1', tin.l01, '2-7',
        tin.l27, '8+', tin.l8), 'revenue', coalesce(cur.rev, '[]'), 'spend_abroad',
        coalesce(cur.spend, '[]'), 'partners', coalesce((SELECT
        jsonb_agg(jsonb_build_object('partner_club_id', p, 'visits_in', vin, 'visits_out', vout,
        'net_visits', vin - vout, 'money', money) ORDER BY p) FROM part), '[]'), 'top_by_visits',
        coalesce((SELECT jsonb_agg(jsonb_build_object('partner_club_id', p, 'visits', vin + vout)
        ORDER BY vin + vout DESC, p) FROM (SELECT * FROM part WHERE vin + vout > 0 ORDER BY vin +
        vout DESC, p LIMIT p_top) s), '[]'), 'top_by_revenue', coalesce((SELECT
        jsonb_agg(jsonb_build_object('partner_club_id', p, 'currency', currency, 'revenue_minor',
        rev) ORDER BY rev DESC, currency, p) FROM (SELECT * FROM pm WHERE rev > 0 ORDER BY rev
        DESC, currency, p LIMIT p_top) s), '[]'), 'seasonality', coalesce(seas.j, '[]'),
        'same_period_last_year', jsonb_build_object('from', v_lf, 'to', v_lt, 'visits_in', ly.vin,
        'visits_out', ly.vout, 'requests_in', ly.req, 'money', coalesce(lym.j, '[]')), 'usage',
        jsonb_build_object('sign_ins', us.sign_ins, 'active_members', us.active), 'rooms',
        jsonb_build_object('capacity', rm.cap, 'room_nights', rm.used, 'available_room_nights',
        rm.cap * rm.nights, 'utilisation', round(rm.used::numeric / nullif(rm.cap * rm.nights, 0),
        4)), 'trailing', coalesce((SELECT jsonb_agg(jsonb_build_object('partner_club_id', p,
        'visits_in', vin, 'visits_out', vout, 'requests', req) ORDER BY p) FROM trail), '[]'),
        'trailing_from', v_tf)::text FROM z, r, tin, tout, uin, uout, med, cur, seas, ly, lym, us,
        rm
    );
END
$fn$;
