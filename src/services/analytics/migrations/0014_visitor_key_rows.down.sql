-- analytics 0014 down: key_months with its (every host, home) visitor rows again (the union of
-- the key's (host, home) rows, days summed) and 0006's primary key; apply_keys of 0013,
-- rebuild_monthly_sums and club_report of 0010. key_month_counts is the same on both layouts.
SELECT set_config('app.relay', 'on', true); -- the rows are behind row level security
ALTER TABLE analytics.key_months DROP CONSTRAINT key_months_pkey;
ALTER TABLE analytics.key_months
    ADD PRIMARY KEY (kind, host_club_id, home_club_id, member_key, month);
INSERT INTO analytics.key_months
SELECT 'v', '00000000-0000-0000-0000-000000000000'::uuid, home_club_id, member_key, month,
       sum(days)
FROM analytics.key_months
WHERE kind = 'v'
GROUP BY home_club_id, member_key, month;

CREATE OR REPLACE FUNCTION analytics.apply_keys(p_kinds "char"[], p_hosts uuid[], p_homes uuid[], p_keys text[], p_months date[], p_days integer[])
 RETURNS void
 LANGUAGE plpgsql
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
 SET jit TO 'off'
 SET enable_seqscan TO 'off'
AS $function$
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
$function$

;

CREATE OR REPLACE FUNCTION analytics.rebuild_monthly_sums()
 RETURNS void
 LANGUAGE plpgsql
AS $function$
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
    INSERT INTO analytics.key_months
    SELECT 'v', sc.host, sc.home, k, date_trunc('month', d.day)::date, count(*)
    FROM analytics.daily_visits d CROSS JOIN LATERAL unnest(d.member_keys) k
    CROSS JOIN LATERAL (VALUES (d.host_club_id, d.home_club_id),
                               ('00000000-0000-0000-0000-000000000000'::uuid, d.home_club_id))
        sc(host, home)
    GROUP BY 1, 2, 3, 4, 5;
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
END
$function$

;

CREATE OR REPLACE FUNCTION analytics.club_report(p_club uuid, p_from date, p_to date, p_period text, p_date date, p_partner uuid, p_top integer)
 RETURNS text
 LANGUAGE plpgsql
 STABLE
 SET plan_cache_mode TO 'force_generic_plan'
 SET jit TO 'off'
AS $function$
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
    -- visitors in: at (club, partner), or summed over the club's (club, home) rows -- a member
    -- key belongs to one home club (0010: no (club, every home club) scope); an edge day's key
    -- probed at its own (club, home)
    uin AS (SELECT CASE WHEN v_pt IS NULL THEN (SELECT coalesce(sum(c.keys), 0) FROM
        analytics.key_month_counts c WHERE c.kind = 'v' AND c.host_club_id = p_club AND c.month
        >= v_wf AND c.month < v_we AND c.prev < v_wf) ELSE (SELECT coalesce(sum(c.keys), 0) FROM
        analytics.key_month_counts c WHERE c.kind = 'v' AND c.host_club_id = p_club AND
        c.home_club_id = v_pt AND c.month >= v_wf AND c.month < v_we AND c.prev < v_wf) END +
        (SELECT count(DISTINCT e.k) FROM (SELECT DISTINCT ed.home_club_id AS o, k FROM ed,
        unnest(ed.member_keys) k WHERE ed.host_club_id = p_club) e WHERE NOT EXISTS (SELECT 1 FROM
        analytics.key_months km WHERE km.kind = 'v' AND km.host_club_id = p_club AND
        km.home_club_id = e.o AND km.member_key = e.k AND km.month >= v_wf AND km.month < v_we))
        AS n FROM w),
    uout AS (SELECT (SELECT coalesce(sum(c.keys), 0) FROM analytics.key_month_counts c WHERE
        c.kind = 'v' AND c.host_club_id = v_ps AND c.home_club_id = p_club AND
        c.month >= v_wf AND c.month < v_we AND c.prev < v_wf) + (SELECT count(*) FROM (SELECT
        DISTINCT k FROM ed, unnest(ed.member_keys) k WHERE ed.home_club_id = p_club) e WHERE NOT
        EXISTS (SELECT 1 FROM analytics.key_months km WHERE km.kind = 'v' AND km.host_club_id =
        v_ps AND km.home_club_id = p_club AND km.member_key = e.k AND km.month >=
        v_wf AND km.month < v_we)) AS n FROM w),
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
$function$

;
