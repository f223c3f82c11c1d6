-- analytics 0006 down: the report reads the daily rollups only.
DROP TRIGGER daily_visits_ins ON analytics.daily_visits;
DROP TRIGGER daily_visits_upd ON analytics.daily_visits;
DROP TRIGGER daily_visits_del ON analytics.daily_visits;
DROP TRIGGER daily_money_ins ON analytics.daily_money;
DROP TRIGGER daily_money_upd ON analytics.daily_money;
DROP TRIGGER daily_money_del ON analytics.daily_money;
DROP TRIGGER daily_usage_ins ON analytics.daily_usage;
DROP TRIGGER daily_usage_upd ON analytics.daily_usage;
DROP TRIGGER daily_usage_del ON analytics.daily_usage;
DROP TRIGGER daily_rooms_ins ON analytics.daily_rooms;
DROP TRIGGER daily_rooms_upd ON analytics.daily_rooms;
DROP TRIGGER daily_rooms_del ON analytics.daily_rooms;
DROP FUNCTION analytics.club_report(uuid, date, date, text, date, uuid, integer);
DROP FUNCTION analytics.rebuild_all();
DROP FUNCTION analytics.rebuild_monthly();
DROP FUNCTION analytics.daily_visits_changed();
DROP FUNCTION analytics.daily_money_changed();
DROP FUNCTION analytics.daily_usage_changed();
DROP FUNCTION analytics.daily_rooms_changed();
DROP FUNCTION analytics.apply_visits_delta();
DROP FUNCTION analytics.apply_key_delta();
DROP FUNCTION analytics.key_delta_table();
DROP FUNCTION analytics.monthly_on();
DROP INDEX analytics.daily_visits_host_day_idx;
DROP INDEX analytics.daily_visits_home_day_idx;
DROP INDEX analytics.daily_money_home_day_idx;
DROP TABLE analytics.monthly_visits, analytics.monthly_money, analytics.monthly_usage,
    analytics.monthly_rooms, analytics.key_months, analytics.key_month_counts,
    analytics.approve_months, analytics.approve_buckets;
