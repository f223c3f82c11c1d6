-- analytics 0007: the monthly level kept without temporary tables, by one trigger function
-- (docs/analytics.md "Ingest speed: one trigger function, deltas by primary key").
--   daily_changed()   the one trigger function of the twelve statement triggers of 0006 (insert,
--                     update, delete on daily_visits, daily_money, daily_usage, daily_rooms):
--                     it hands the statement's transition tables, as arrays of the table's rows
--                     (old, new), to analytics.month_delta, overloaded per table (chosen by the
--                     arrays' row type). 0006 copied them into temporary tables, then joined
--                     those (no statistics: hash joins over whole tables) in about 15 statements
--                     per firing.
--   month_delta(o, n) one statement per monthly table: the months' signed sums, each month row
--                     read by its primary key, written back as an absolute value (a row reaching
--                     0 days deleted by ctid, the others upserted) in one statement.
--   apply_keys(...)   key_months and key_month_counts from signed key changes, each in one
--                     statement: the touched keys' months read by primary key prefix, the
--                     (month, prev) pairs before and after computed from what was read plus the
--                     change (no second read), counts written as absolute values.
--   recompute_visit_keys 0005's (renamed recompute_visit_rows) with the triggers off, then ONE
--                     month_delta of the touched days' rows before and after: 0006 ran the
--                     monthly maintenance once for the delete and once for the insert, and rows
--                     that come back unchanged now cancel out before any key or month row is read.
--   monthly_visits.dow_visits  visits (checked in or completed) per ISO weekday of the arrival
--                     day, Monday first: the network report's weekday list from the monthly
--                     level (rebuild_monthly fills it after 0006's sums, now rebuild_monthly_sums).
-- The functions of 0006 stay (the down migration points the triggers back at them).
ALTER TABLE analytics.monthly_visits
    ADD COLUMN dow_visits integer[] NOT NULL DEFAULT '{0,0,0,0,0,0,0}';
ALTER FUNCTION analytics.rebuild_monthly() RENAME TO rebuild_monthly_sums;
CREATE FUNCTION analytics.rebuild_monthly() RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    PERFORM analytics.rebuild_monthly_sums();
    -- per month row, its days by primary key (a join of the grouped days was planned as a
    -- nested loop over the whole table)
    UPDATE analytics.monthly_visits mv
    SET dow_visits = (
        SELECT ARRAY[coalesce(sum(d.visits) FILTER (WHERE extract(isodow FROM d.day) = 1), 0),
                     coalesce(sum(d.visits) FILTER (WHERE extract(isodow FROM d.day) = 2), 0),
                     coalesce(sum(d.visits) FILTER (WHERE extract(isodow FROM d.day) = 3), 0),
                     coalesce(sum(d.visits) FILTER (WHERE extract(isodow FROM d.day) = 4), 0),
                     coalesce(sum(d.visits) FILTER (WHERE extract(isodow FROM d.day) = 5), 0),
                     coalesce(sum(d.visits) FILTER (WHERE extract(isodow FROM d.day) = 6), 0),
                     coalesce(sum(d.visits) FILTER (WHERE extract(isodow FROM d.day) = 7), 0)]
        FROM analytics.daily_visits d
        WHERE d.host_club_id = mv.host_club_id AND d.home_club_id = mv.home_club_id
          AND d.day >= mv.month AND d.day < (mv.month + interval '1 month')::date);
END
$fn$;

CREATE FUNCTION analytics.apply_keys(p_kinds "char"[], p_hosts uuid[], p_homes uuid[],
                                     p_keys text[], p_months date[], p_days integer[])
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    WITH dl AS (
        SELECT t.kd, t.h, t.o, t.k, t.m, sum(t.d)::integer AS d
        FROM unnest(p_kinds, p_hosts, p_homes, p_keys, p_months, p_days) AS t(kd, h, o, k, m, d)
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(t.d) <> 0),
    tk AS (SELECT DISTINCT kd, h, o, k FROM dl),
    bf AS (SELECT tk.kd, tk.h, tk.o, tk.k, e.month AS m, e.days, e.ctid AS tid
           FROM tk CROSS JOIN LATERAL (
               SELECT y.month, y.days, y.ctid FROM analytics.key_months y
               WHERE y.kind = tk.kd AND y.host_club_id = tk.h AND y.home_club_id = tk.o
                 AND y.member_key = tk.k) e),
    af AS (SELECT coalesce(bf.kd, dl.kd) AS kd, coalesce(bf.h, dl.h) AS h,
                  coalesce(bf.o, dl.o) AS o, coalesce(bf.k, dl.k) AS k, coalesce(bf.m, dl.m) AS m,
                  coalesce(bf.days, 0) + coalesce(dl.d, 0) AS days, bf.tid,
                  dl.d IS NOT NULL AS changed
           FROM bf FULL JOIN dl ON bf.kd = dl.kd AND bf.h = dl.h AND bf.o = dl.o AND bf.k = dl.k
                                AND bf.m = dl.m),
    pr AS (SELECT kd, h, o, m, coalesce(lag(m) OVER (PARTITION BY kd, h, o, k ORDER BY m),
                                        '-infinity') AS p, -1 AS s FROM bf
           UNION ALL
           SELECT kd, h, o, m, coalesce(lag(m) OVER (PARTITION BY kd, h, o, k ORDER BY m),
                                        '-infinity'), 1 FROM af WHERE days > 0),
    cn AS (SELECT kd, h, o, m, p, sum(s) AS n FROM pr GROUP BY 1, 2, 3, 4, 5 HAVING sum(s) <> 0),
    ct AS (SELECT cn.kd, cn.h, cn.o, cn.m, cn.p, coalesce(e.keys, 0) + cn.n AS keys, e.ctid AS tid
           FROM cn LEFT JOIN LATERAL (
               SELECT y.keys, y.ctid FROM analytics.key_month_counts y
               WHERE y.kind = cn.kd AND y.host_club_id = cn.h AND y.home_club_id = cn.o
                 AND y.month = cn.m AND y.prev = cn.p) e ON true),
    kdel AS (DELETE FROM analytics.key_months
             WHERE ctid = ANY (ARRAY(SELECT tid FROM af WHERE changed AND days = 0))),
    kup AS (INSERT INTO analytics.key_months AS y (kind, host_club_id, home_club_id, member_key,
                month, days)
            SELECT kd, h, o, k, m, days FROM af WHERE changed AND days > 0
            ON CONFLICT (kind, host_club_id, home_club_id, member_key, month)
                DO UPDATE SET days = EXCLUDED.days),
    cdel AS (DELETE FROM analytics.key_month_counts
             WHERE ctid = ANY (ARRAY(SELECT tid FROM ct WHERE keys = 0)))
    INSERT INTO analytics.key_month_counts AS y (kind, host_club_id, home_club_id, month, prev,
        keys)
    SELECT kd, h, o, m, p, keys FROM ct WHERE keys > 0
    ON CONFLICT (kind, host_club_id, home_club_id, month, prev) DO UPDATE SET keys = EXCLUDED.keys;
END
$fn$;

-- The approval delays of signed daily_visits rows at (host, home) and (host, every home club):
-- approve_months per second and approve_buckets per 1024 s, absolute values by primary key.
CREATE FUNCTION analytics.apply_approvals(p_hosts uuid[], p_homes uuid[], p_months date[],
                                          p_secs integer[], p_ns integer[]) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    WITH dl AS (
        SELECT t.h, sc.o, t.m, t.x, sum(t.n) AS n
        FROM unnest(p_hosts, p_homes, p_months, p_secs, p_ns) AS t(h, o, m, x, n)
        CROSS JOIN LATERAL (VALUES (t.o), ('00000000-0000-0000-0000-000000000000'::uuid)) sc(o)
        GROUP BY 1, 2, 3, 4 HAVING sum(t.n) <> 0),
    sa AS (SELECT dl.h, dl.o, dl.m, dl.x, coalesce(e.n, 0) + dl.n AS n, e.ctid AS tid
           FROM dl LEFT JOIN LATERAL (
               SELECT y.n, y.ctid FROM analytics.approve_months y
               WHERE y.host_club_id = dl.h AND y.home_club_id = dl.o AND y.month = dl.m
                 AND y.secs = dl.x) e ON true),
    db AS (SELECT h, o, m, floor(x / 1024.0)::integer AS b, sum(n) AS n FROM dl
           GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0),
    sb AS (SELECT db.h, db.o, db.m, db.b, coalesce(e.n, 0) + db.n AS n, e.ctid AS tid
           FROM db LEFT JOIN LATERAL (
               SELECT y.n, y.ctid FROM analytics.approve_buckets y
               WHERE y.host_club_id = db.h AND y.home_club_id = db.o AND y.month = db.m
                 AND y.bucket = db.b) e ON true),
    adel AS (DELETE FROM analytics.approve_months
             WHERE ctid = ANY (ARRAY(SELECT tid FROM sa WHERE n = 0))),
    aup AS (INSERT INTO analytics.approve_months AS y
            SELECT h, o, m, x, n FROM sa WHERE n > 0
            ON CONFLICT (host_club_id, home_club_id, month, secs) DO UPDATE SET n = EXCLUDED.n),
    bdel AS (DELETE FROM analytics.approve_buckets
             WHERE ctid = ANY (ARRAY(SELECT tid FROM sb WHERE n = 0)))
    INSERT INTO analytics.approve_buckets AS y
    SELECT h, o, m, b, n FROM sb WHERE n > 0
    ON CONFLICT (host_club_id, home_club_id, month, bucket) DO UPDATE SET n = EXCLUDED.n;
END
$fn$;

-- daily_visits rows o (removed or before) and n (added or after): their months' sums, the
-- approval delays and the visitors' keys at (host, home), (host, every home club) and (every
-- host, home).
CREATE FUNCTION analytics.month_delta(o analytics.daily_visits[], n analytics.daily_visits[])
    RETURNS void
    LANGUAGE plpgsql
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

CREATE FUNCTION analytics.month_delta(o analytics.daily_money[], n analytics.daily_money[])
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    IF cardinality(o) + cardinality(n) = 0 THEN
        RETURN;
    END IF;
    WITH dl AS (
        SELECT x.host_club_id AS h, x.home_club_id AS ho, date_trunc('month', x.day)::date AS m,
               x.currency AS c, sum(x.s) AS days, sum(x.s * x.amount_minor) AS amount,
               sum(x.s * x.charges) AS charges
        FROM (SELECT -1 AS s, y.* FROM unnest(o) y UNION ALL SELECT 1, y.* FROM unnest(n) y) x
        GROUP BY 1, 2, 3, 4),
    ab AS (SELECT dl.h, dl.ho, dl.m, dl.c, coalesce(e.days, 0) + dl.days AS days,
                  coalesce(e.amount_minor, 0) + dl.amount AS amount,
                  coalesce(e.charges, 0) + dl.charges AS charges, e.ctid AS tid
           FROM dl LEFT JOIN LATERAL (
               SELECT y.days, y.amount_minor, y.charges, y.ctid FROM analytics.monthly_money y
               WHERE y.host_club_id = dl.h AND y.home_club_id = dl.ho AND y.month = dl.m
                 AND y.currency = dl.c) e ON true),
    del AS (DELETE FROM analytics.monthly_money
            WHERE ctid = ANY (ARRAY(SELECT tid FROM ab WHERE days = 0)))
    INSERT INTO analytics.monthly_money AS y
    SELECT h, ho, m, c, days, amount, charges FROM ab WHERE days > 0
    ON CONFLICT (host_club_id, home_club_id, month, currency) DO UPDATE SET
        days = EXCLUDED.days, amount_minor = EXCLUDED.amount_minor, charges = EXCLUDED.charges;
END
$fn$;

CREATE FUNCTION analytics.month_delta(o analytics.daily_usage[], n analytics.daily_usage[])
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    v_kd "char"[]; v_h uuid[]; v_ho uuid[]; v_k text[]; v_m date[]; v_d integer[];
BEGIN
    IF cardinality(o) + cardinality(n) = 0 THEN
        RETURN;
    END IF;
    WITH dl AS (
        SELECT x.club_id AS c, date_trunc('month', x.day)::date AS m, sum(x.s) AS days,
               sum(x.s * x.sign_ins) AS sign_ins
        FROM (SELECT -1 AS s, y.* FROM unnest(o) y UNION ALL SELECT 1, y.* FROM unnest(n) y) x
        GROUP BY 1, 2),
    ab AS (SELECT dl.c, dl.m, coalesce(e.days, 0) + dl.days AS days,
                  coalesce(e.sign_ins, 0) + dl.sign_ins AS sign_ins, e.ctid AS tid
           FROM dl LEFT JOIN LATERAL (
               SELECT y.days, y.sign_ins, y.ctid FROM analytics.monthly_usage y
               WHERE y.club_id = dl.c AND y.month = dl.m) e ON true),
    del AS (DELETE FROM analytics.monthly_usage
            WHERE ctid = ANY (ARRAY(SELECT tid FROM ab WHERE days = 0)))
    INSERT INTO analytics.monthly_usage AS y
    SELECT c, m, days, sign_ins FROM ab WHERE days > 0
    ON CONFLICT (club_id, month) DO UPDATE SET days = EXCLUDED.days,
        sign_ins = EXCLUDED.sign_ins;
    -- the accounts signed in, per club
    SELECT array_agg('u'::"char"), array_agg(x.club_id),
           array_agg('00000000-0000-0000-0000-000000000000'::uuid), array_agg(key),
           array_agg(date_trunc('month', x.day)::date), array_agg(x.s)
    INTO v_kd, v_h, v_ho, v_k, v_m, v_d
    FROM (SELECT -1 AS s, y.* FROM unnest(o) y UNION ALL SELECT 1, y.* FROM unnest(n) y) x
    CROSS JOIN LATERAL unnest(x.member_keys) key;
    IF v_kd IS NOT NULL THEN
        PERFORM analytics.apply_keys(v_kd, v_h, v_ho, v_k, v_m, v_d);
    END IF;
END
$fn$;

CREATE FUNCTION analytics.month_delta(o analytics.daily_rooms[], n analytics.daily_rooms[])
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    IF cardinality(o) + cardinality(n) = 0 THEN
        RETURN;
    END IF;
    WITH dl AS (
        SELECT x.host_club_id AS h, x.home_club_id AS ho,
               date_trunc('month', x.night)::date AS m, sum(x.s) AS days,
               sum(x.s * x.rooms) AS rooms
        FROM (SELECT -1 AS s, y.* FROM unnest(o) y UNION ALL SELECT 1, y.* FROM unnest(n) y) x
        GROUP BY 1, 2, 3),
    ab AS (SELECT dl.h, dl.ho, dl.m, coalesce(e.days, 0) + dl.days AS days,
                  coalesce(e.rooms, 0) + dl.rooms AS rooms, e.ctid AS tid
           FROM dl LEFT JOIN LATERAL (
               SELECT y.days, y.rooms, y.ctid FROM analytics.monthly_rooms y
               WHERE y.host_club_id = dl.h AND y.home_club_id = dl.ho AND y.month = dl.m) e
             ON true),
    del AS (DELETE FROM analytics.monthly_rooms
            WHERE ctid = ANY (ARRAY(SELECT tid FROM ab WHERE days = 0)))
    INSERT INTO analytics.monthly_rooms AS y
    SELECT h, ho, m, days, rooms FROM ab WHERE days > 0
    ON CONFLICT (host_club_id, home_club_id, month) DO UPDATE SET days = EXCLUDED.days,
        rooms = EXCLUDED.rooms;
END
$fn$;

-- The trigger function of every daily rollup: the statement's old and new rows, as arrays of
-- the table's row type, to the table's month_delta (an empty array of that type for the side
-- the operation has not). The call names the row type, so it is built per firing (EXECUTE sees
-- the statement's transition tables).
CREATE FUNCTION analytics.daily_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    rows_of constant text := 'ARRAY(SELECT x::analytics.%I FROM %s x)';
    none constant text := '''{}''::analytics.%I[]';
BEGIN
    IF analytics.monthly_on() THEN
        EXECUTE format('SELECT analytics.month_delta(%s, %s)',
                       CASE WHEN TG_OP = 'INSERT' THEN format(none, TG_TABLE_NAME)
                            ELSE format(rows_of, TG_TABLE_NAME, 'old_rows') END,
                       CASE WHEN TG_OP = 'DELETE' THEN format(none, TG_TABLE_NAME)
                            ELSE format(rows_of, TG_TABLE_NAME, 'new_rows') END);
    END IF;
    RETURN NULL;
END
$fn$;

DO $do$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['daily_visits', 'daily_money', 'daily_usage', 'daily_rooms'] LOOP
        EXECUTE format('DROP TRIGGER %I ON analytics.%I', t || '_ins', t);
        EXECUTE format('DROP TRIGGER %I ON analytics.%I', t || '_upd', t);
        EXECUTE format('DROP TRIGGER %I ON analytics.%I', t || '_del', t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON analytics.%I REFERENCING NEW TABLE AS '
                       'new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics.daily_changed()',
                       t || '_ins', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON analytics.%I REFERENCING OLD TABLE AS '
                       'old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION '
                       'analytics.daily_changed()', t || '_upd', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON analytics.%I REFERENCING OLD TABLE AS '
                       'old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics.daily_changed()',
                       t || '_del', t);
    END LOOP;
END
$do$;

-- The daily_visits rows of the (host, home, day) given (parallel arrays, duplicates allowed).
CREATE FUNCTION analytics.visit_day_rows(hosts uuid[], homes uuid[], days date[])
    RETURNS analytics.daily_visits[]
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    RETURN (SELECT coalesce(array_agg(x.y), '{}')
            FROM (SELECT DISTINCT h, o, d FROM unnest(hosts, homes, days) AS t(h, o, d)
                  WHERE d IS NOT NULL) k
            CROSS JOIN LATERAL (SELECT y FROM analytics.daily_visits y
                                WHERE y.host_club_id = k.h AND y.home_club_id = k.o
                                  AND y.day = k.d) x);
END
$fn$;

-- 0005's recomputation (delete the touched days' rows, insert them again from visits) with the
-- monthly triggers off for its two statements, then ONE month_delta of the days' rows before
-- and after: 0006 ran the whole monthly maintenance once for the delete and once for the
-- insert; rows that come back unchanged cancel out before any month or key row is read.
ALTER FUNCTION analytics.recompute_visit_keys(uuid[], uuid[], date[])
    RENAME TO recompute_visit_rows;
CREATE FUNCTION analytics.recompute_visit_keys(hosts uuid[], homes uuid[], days date[])
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    monthly constant boolean := analytics.monthly_on();
    v_old analytics.daily_visits[];
BEGIN
    IF NOT monthly THEN
        PERFORM analytics.recompute_visit_rows(hosts, homes, days);
        RETURN;
    END IF;
    v_old := analytics.visit_day_rows(hosts, homes, days);
    PERFORM set_config('analytics.monthly_off', 'on', true);
    PERFORM analytics.recompute_visit_rows(hosts, homes, days);
    PERFORM set_config('analytics.monthly_off', 'off', true);
    PERFORM analytics.month_delta(v_old, analytics.visit_day_rows(hosts, homes, days));
END
$fn$;

-- The weekdays of the monthly rows already there (read and written in the consumers' scope).
SELECT set_config('app.relay', 'on', true);
SELECT analytics.rebuild_monthly();
