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

DROP FUNCTION analytics.recompute_visit_keys(uuid[], uuid[], date[]);
DROP FUNCTION analytics.visit_day_rows(uuid[], uuid[], date[]);
ALTER FUNCTION analytics.recompute_visit_rows(uuid[], uuid[], date[])
    RENAME TO recompute_visit_keys;
