-- Tokens issued under 0007 (club, session, generation + MAC) name no auth.refresh_tokens row:
-- after this down they are refused and their holders sign in again.
DROP FUNCTION auth.refresh_next(uuid, uuid, int, int);
ALTER TABLE auth.sessions DROP COLUMN refresh_gen;
