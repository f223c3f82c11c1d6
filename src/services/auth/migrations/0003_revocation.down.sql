DROP FUNCTION auth.recent_revocations(int);
DROP INDEX auth.sessions_revoked_idx;
DROP TABLE auth.club_suspensions;
