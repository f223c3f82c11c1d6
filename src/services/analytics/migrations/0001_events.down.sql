SELECT core.drop_dead_letter('analytics');
SELECT core.drop_outbox('analytics');
DROP SCHEMA analytics CASCADE;
