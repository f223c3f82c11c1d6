-- Back to 0017: every visit_folds column with the default statistics target.
ALTER TABLE analytics.visit_folds
    ALTER COLUMN attr_at SET STATISTICS -1,
    ALTER COLUMN attr_id SET STATISTICS -1,
    ALTER COLUMN host_club_id SET STATISTICS -1,
    ALTER COLUMN home_club_id SET STATISTICS -1,
    ALTER COLUMN member_key SET STATISTICS -1,
    ALTER COLUMN attr_facts SET STATISTICS -1,
    ALTER COLUMN status_at SET STATISTICS -1,
    ALTER COLUMN status_id SET STATISTICS -1,
    ALTER COLUMN status SET STATISTICS -1,
    ALTER COLUMN loi_at SET STATISTICS -1;
