-- analytics 0018: no planner statistics for the visit_folds columns nothing filters on
-- (docs/analytics.md "Ingest speed: where PostgreSQL's CPU goes beside the statements (stop 23)").
--   visit_folds is read and written by visit_id only (fold_visits, visits_from_folds,
--   visits_before, refresh_visits: probes of its primary key), yet every ANALYZE (autovacuum's,
--   after each 10 % of new rows) sampled and computed statistics for all eleven columns,
--   attr_facts' jsonb the dearest: the largest autovacuum item of an ingest run (3.5-6.5 µs per
--   event in the 20,000-event bench). With the statistics target 0 on the columns no query
--   filters, joins or groups by, ANALYZE keeps visit_id's statistics and the row count (what
--   the probes' plans use) at ~a third of the CPU (4 ANALYZEs of 20,000 rows: 63-98 -> 22-28
--   ticks).
ALTER TABLE analytics.visit_folds
    ALTER COLUMN attr_at SET STATISTICS 0,
    ALTER COLUMN attr_id SET STATISTICS 0,
    ALTER COLUMN host_club_id SET STATISTICS 0,
    ALTER COLUMN home_club_id SET STATISTICS 0,
    ALTER COLUMN member_key SET STATISTICS 0,
    ALTER COLUMN attr_facts SET STATISTICS 0,
    ALTER COLUMN status_at SET STATISTICS 0,
    ALTER COLUMN status_id SET STATISTICS 0,
    ALTER COLUMN status SET STATISTICS 0,
    ALTER COLUMN loi_at SET STATISTICS 0;
