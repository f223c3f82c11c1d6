-- analytics 0015: the month level of the visits written from the daily rows' changes
-- (docs/analytics.md "Ingest speed: month rows from the daily changes (migration 0015,
-- stop 23)").
--   visit_day_delta handed month_delta the changed daily_visits rows before and after (two
--   arrays of whole rows, member keys and approval delays included, each row copied again by
--   day_counts without its arrays), and month_delta grouped them by month again (signed sums of
--   every counter over both arrays). A daily row is the sum of its visits, so the change of a
--   month row is the sum of the changes of its daily rows, which visit_day_delta has computed
--   already (its per-row deltas): it now sums them per month in the statement that computes
--   them (days: +1 per row inserted, -1 per row deleted; the weekday visits from the rows'
--   days) and hands the month changes to month_visits_add, month_delta's write (each month row
--   read by primary key, written back as absolute values, deleted at 0 days), which
--   month_delta (the triggers' path: rebuilds, the other writers) now calls too. Keys and
--   approval delays go to apply_keys and apply_approvals as before, the keys at (host, home)
--   only (apply_keys dropped the two other scopes' copies it was given since 0014). Same rows,
--   same values.

-- Adds the changes d (one per month row: days, counters and weekday visits, signed) to
-- monthly_visits: each month row read by primary key, written back as absolute values, deleted
-- when it reaches 0 days (month_delta's write, shared with visit_day_delta since 0015).
CREATE FUNCTION analytics.month_visits_add(d analytics.monthly_visits[])
    RETURNS void
    LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off SET enable_seqscan = off
    AS $fn$
BEGIN
    IF d IS NULL THEN
        RETURN;
    END IF;
    WITH dl AS (SELECT x.host_club_id AS h, x.home_club_id AS ho, x.month AS m, x.days,
                       x.requested, x.approved, x.declined, x.confirmed, x.checked_in,
                       x.completed, x.no_show, x.cancelled, x.visits, x.visitor_days,
                       x.visitor_nights, x.guests, x.lead_0_1, x.lead_2_7, x.lead_8,
                       x.dow_visits AS dow
                FROM unnest(d) x),
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
                  ARRAY[(coalesce(e.dow_visits[1], 0) + dl.dow[1])::integer,
                        (coalesce(e.dow_visits[2], 0) + dl.dow[2])::integer,
                        (coalesce(e.dow_visits[3], 0) + dl.dow[3])::integer,
                        (coalesce(e.dow_visits[4], 0) + dl.dow[4])::integer,
                        (coalesce(e.dow_visits[5], 0) + dl.dow[5])::integer,
                        (coalesce(e.dow_visits[6], 0) + dl.dow[6])::integer,
                        (coalesce(e.dow_visits[7], 0) + dl.dow[7])::integer] AS dow_visits,
                  e.ctid AS tid
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
END
$fn$;

CREATE OR REPLACE FUNCTION analytics.month_delta(o analytics.daily_visits[], n analytics.daily_visits[])
    RETURNS void
    LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off SET enable_seqscan = off
    AS $fn$
DECLARE
    v_md analytics.monthly_visits[];
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
        SELECT x.s, ch.h, ch.ho, date_trunc('month', ch.d)::date AS m, x.k
        FROM ch CROSS JOIN LATERAL (
            SELECT 1 AS s, k FROM unnest(ch.add_keys) k
            WHERE k <> ALL (coalesce((ch.before).member_keys, '{}'))
            UNION ALL
            SELECT -1, k FROM unnest(ch.old_keys) k WHERE k <> ALL ((ch.after).member_keys)) x
        WHERE ch.before IS DISTINCT FROM ch.after)
    SELECT md.*, r.*, k.*, a.*
    INTO v_md, v_del, v_upd, v_upd_tid, v_ins, v_kd, v_kh, v_kho, v_k, v_km, v_ks, v_ah,
         v_aho, v_am, v_as, v_an
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
         -- visitors at (host, home) only: apply_keys derives (host, every home club) and
         -- (every host, home) from them and dropped those changes unread (0010, 0014)
         (SELECT array_agg('v'::"char"), array_agg(kd.h), array_agg(kd.ho), array_agg(kd.k),
                 array_agg(kd.m), array_agg(kd.s)
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
        IF v_kd IS NOT NULL THEN
            PERFORM analytics.apply_keys(v_kd, v_kh, v_kho, v_k, v_km, v_ks);
        END IF;
        IF v_ah IS NOT NULL THEN
            PERFORM analytics.apply_approvals(v_ah, v_aho, v_am, v_as, v_an);
        END IF;
    END IF;
END
$fn$;
