-- analytics 0021: apply_visitors' probe of key_month_counts kept a probe (docs/analytics.md
-- "Ingest: visitor months from the visits table (stop 25)").
--   0020's lateral read of a count row names its kind as a constant ('v'), so nothing but the
--   outer row's host, home, month and prev ties it to the outer row, and a plan made while the
--   table is young (a fresh cluster: ~7 rows estimated) read every visitor count row once
--   (bitmap scan on kind), materialized them and joined by a filter: in an end-to-end run,
--   139,694 rows compared for 256 changes in one batch, 39 of the statement's 48 ms. OFFSET 0
--   keeps the sub-select per outer row: one primary-key probe per count row (as apply_keys,
--   whose kind was a column of the outer row). Same rows.
CREATE OR REPLACE FUNCTION analytics.apply_visitors(p_hosts uuid[], p_homes uuid[], p_days date[],
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
              AND y.month = cn.m AND y.prev = cn.p
            OFFSET 0) e ON true), -- a probe by primary key per count (0021)
    cdel AS (DELETE FROM analytics.key_month_counts
             WHERE ctid = ANY (ARRAY(SELECT tid FROM ct WHERE tid IS NOT NULL AND keys <= 0))),
    cupd AS (UPDATE analytics.key_month_counts y SET keys = ct.keys
             FROM ct WHERE y.ctid = ct.tid AND ct.keys > 0)
    INSERT INTO analytics.key_month_counts (kind, host_club_id, home_club_id, month, prev, keys)
    SELECT 'v', h, o, m, p, keys FROM ct WHERE tid IS NULL AND keys > 0;
END
$fn$;
