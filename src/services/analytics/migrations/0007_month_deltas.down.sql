-- analytics 0007 down: the triggers back on 0006's functions, 0005's recompute_visit_keys.
DO $do$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['daily_visits', 'daily_money', 'daily_usage', 'daily_rooms'] LOOP
        EXECUTE format('DROP TRIGGER %I ON analytics.%I', t || '_ins', t);
        EXECUTE format('DROP TRIGGER %I ON analytics.%I', t || '_upd', t);
        EXECUTE format('DROP TRIGGER %I ON analytics.%I', t || '_del', t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON analytics.%I REFERENCING NEW TABLE AS '
                       'new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics.%I()',
                       t || '_ins', t, t || '_changed');
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON analytics.%I REFERENCING OLD TABLE AS '
                       'old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION '
                       'analytics.%I()', t || '_upd', t, t || '_changed');
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON analytics.%I REFERENCING OLD TABLE AS '
                       'old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics.%I()',
                       t || '_del', t, t || '_changed');
    END LOOP;
END
$do$;
DROP FUNCTION analytics.daily_changed();
DROP FUNCTION analytics.rebuild_monthly();
ALTER FUNCTION analytics.rebuild_monthly_sums() RENAME TO rebuild_monthly;
ALTER TABLE analytics.monthly_visits DROP COLUMN dow_visits;
DROP FUNCTION analytics.month_delta(analytics.daily_visits[], analytics.daily_visits[]);
DROP FUNCTION analytics.month_delta(analytics.daily_money[], analytics.daily_money[]);
DROP FUNCTION analytics.month_delta(analytics.daily_usage[], analytics.daily_usage[]);
DROP FUNCTION analytics.month_delta(analytics.daily_rooms[], analytics.daily_rooms[]);
DROP FUNCTION analytics.apply_approvals(uuid[], uuid[], date[], integer[], integer[]);
DROP FUNCTION analytics.apply_keys("char"[], uuid[], uuid[], text[], date[], integer[]);

-- 0005's recompute: delete every touched row, insert its recomputation.
CREATE OR REPLACE FUNCTION analytics.recompute_visit_keys(hosts uuid[], homes uuid[], days date[])
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
BEGIN
    DELETE FROM analytics.daily_visits WHERE ctid = ANY (ARRAY(
        SELECT x.ctid
        FROM (SELECT DISTINCT h, o, d FROM unnest(hosts, homes, days) AS t(h, o, d)
              WHERE d IS NOT NULL) k
        CROSS JOIN LATERAL (SELECT y.ctid FROM analytics.daily_visits y
                            WHERE y.host_club_id = k.h AND y.home_club_id = k.o
                              AND y.day = k.d) x));
    INSERT INTO analytics.daily_visits
    SELECT v.host_club_id, v.home_club_id, v.arrive_on, v.facility, v.category,
           count(*),
           count(*) FILTER (WHERE v.approved_at IS NOT NULL),
           count(*) FILTER (WHERE v.status = 'declined'),
           count(*) FILTER (WHERE v.status = 'confirmed'),
           count(*) FILTER (WHERE v.status = 'checked_in'),
           count(*) FILTER (WHERE v.status = 'completed'),
           count(*) FILTER (WHERE v.status = 'no_show'),
           count(*) FILTER (WHERE v.status = 'cancelled'),
           count(*) FILTER (WHERE v.status IN ('checked_in', 'completed')),
           coalesce(sum(v.depart_on - v.arrive_on + 1)
                    FILTER (WHERE v.status IN ('checked_in', 'completed')), 0),
           coalesce(sum(v.depart_on - v.arrive_on)
                    FILTER (WHERE v.status IN ('checked_in', 'completed')), 0),
           coalesce(sum(v.guests) FILTER (WHERE v.status IN ('checked_in', 'completed')), 0),
           count(*) FILTER (WHERE v.lead_days <= 1),
           count(*) FILTER (WHERE v.lead_days BETWEEN 2 AND 7),
           count(*) FILTER (WHERE v.lead_days >= 8),
           coalesce(array_agg(extract(epoch FROM v.approved_at - v.requested_at)::integer
                              ORDER BY extract(epoch FROM v.approved_at - v.requested_at))
                    FILTER (WHERE v.approved_at IS NOT NULL AND v.requested_at IS NOT NULL),
                    '{}'),
           coalesce((SELECT array_agg(DISTINCT k ORDER BY k) FROM unnest(
                        array_agg(v.member_key) FILTER (WHERE v.member_key IS NOT NULL
                            AND v.status IN ('checked_in', 'completed'))) k), '{}')
    FROM (SELECT DISTINCT h, o, d FROM unnest(hosts, homes, days) AS t(h, o, d)
          WHERE d IS NOT NULL) k
    CROSS JOIN LATERAL (SELECT * FROM analytics.visits y
                        WHERE y.host_club_id = k.h AND y.home_club_id = k.o
                          AND y.arrive_on = k.d) v
    GROUP BY v.host_club_id, v.home_club_id, v.arrive_on, v.facility, v.category;
END
$fn$;
