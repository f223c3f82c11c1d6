-- 0007_refresh_generation: a refresh writes ONE row version (issue 16 step 4). A refresh token
-- no longer has a row of its own: it names its club, its session and the session's refresh
-- generation, with an HMAC (a subkey of RECIPROCAL_AUTH_KEK, like one-time tokens) over the
-- three (auth_util.h, auth_refresh_token_make). The session row keeps the generation of its one
-- live token; a rotation moves it on in place:
--   token generation = refresh_gen   live: the rotation sets refresh_gen + 1 (and last_used_at);
--   token generation < refresh_gen   a rotated token presented again: reuse, the family ends;
--   token generation > refresh_gen   never issued: invalid.
-- The MAC makes every generation of every session exact: no token can be named without the key,
-- so a reuse is only ever reported for a token the service issued, and nobody who merely knows a
-- session id can end it. auth.refresh_tokens and auth.refresh_rotate (0004) stay for the tokens
-- issued before this migration (43 characters): their next refresh moves the session onto this
-- scheme (generation 0).
ALTER TABLE auth.sessions ADD COLUMN refresh_gen int NOT NULL DEFAULT 0 CHECK (refresh_gen >= 0);

-- The rotation of the token (p_club, p_sid, p_gen), whose MAC the caller has checked, in the
-- caller's transaction and scope (app.club_id = p_club, set by db_write). First the rotation
-- itself, ONE statement: the session row moves to the next generation only when the token is
-- its live one, the session is neither revoked nor past its lifetime or idle timeout, the
-- account is active and the club not suspended; RETURNING carries what the access token needs.
-- Only when that touches no row does the function lock the session and say why, as 0004 did:
--   'invalid'   no such session, a generation never issued, revoked session, inactive account;
--   'reused'    an older generation: nothing changes here, the caller revokes the family with
--               its audit row and event in its own transaction;
--   'expired' / 'idle'  absolute lifetime or idle timeout reached: the session is revoked;
--   'suspended' the club is suspended: nothing changes;
--   'ok'        rotated (a concurrent change let the first statement miss, nothing else).
-- plan_cache_mode: the statements' plans are made once per connection (generic plans: primary-key
-- look-ups whatever the values); with custom plans PostgreSQL planned the UPDATE again on every
-- call, parsing the inlined RLS functions (core.current_club) each time.
CREATE FUNCTION auth.refresh_next(p_club uuid, p_sid uuid, p_gen int, p_idle_s int,
                                  OUT r_outcome text, OUT r_user uuid, OUT r_email text,
                                  OUT r_roles text, OUT r_extra text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
    AS $$
DECLARE
    t record;
BEGIN
    UPDATE auth.sessions s SET refresh_gen = s.refresh_gen + 1, last_used_at = now()
      FROM auth.users u
     WHERE s.club_id = p_club AND s.id = p_sid AND s.refresh_gen = p_gen
       AND s.revoked_at IS NULL AND s.expires_at > now()
       AND s.last_used_at > now() - make_interval(secs => p_idle_s)
       AND u.club_id = s.club_id AND u.id = s.user_id AND u.status = 'active'
       AND NOT EXISTS (SELECT 1 FROM auth.club_suspensions c WHERE c.club_id = p_club)
    RETURNING 'ok', u.id, u.email,
              (SELECT coalesce(jsonb_agg(r.role ORDER BY r.role), '[]')::text
                 FROM auth.user_roles r WHERE r.club_id = u.club_id AND r.user_id = u.id),
              (SELECT string_agg(c.perms, ' ')
                 FROM auth.user_roles r
                 JOIN auth.roles c ON c.club_id = r.club_id AND c.name = r.role
                WHERE r.club_id = u.club_id AND r.user_id = u.id)
      INTO r_outcome, r_user, r_email, r_roles, r_extra;
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT s.refresh_gen AS gen, s.user_id AS uid, s.revoked_at IS NOT NULL AS revoked,
           s.expires_at <= now() AS expired,
           s.last_used_at <= now() - make_interval(secs => p_idle_s) AS idle,
           u.status = 'active' AS active
      INTO t
      FROM auth.sessions s
      JOIN auth.users u ON u.club_id = s.club_id AND u.id = s.user_id
     WHERE s.club_id = p_club AND s.id = p_sid
       FOR UPDATE OF s;
    r_outcome := 'invalid';
    IF NOT FOUND OR t.gen < p_gen THEN
        RETURN;
    END IF;
    r_user := t.uid;
    IF t.gen > p_gen THEN
        r_outcome := 'reused';
    ELSIF t.revoked OR NOT t.active THEN
        r_outcome := 'invalid';
    ELSIF t.expired OR t.idle THEN
        r_outcome := CASE WHEN t.expired THEN 'expired' ELSE 'idle' END;
        UPDATE auth.sessions SET revoked_at = now(), revoked_reason = r_outcome
         WHERE club_id = p_club AND id = p_sid AND revoked_at IS NULL;
    ELSIF EXISTS (SELECT 1 FROM auth.club_suspensions c WHERE c.club_id = p_club) THEN
        r_outcome := 'suspended';
    ELSE
        SELECT n.r_outcome, n.r_user, n.r_email, n.r_roles, n.r_extra
          INTO r_outcome, r_user, r_email, r_roles, r_extra
          FROM auth.refresh_next(p_club, p_sid, p_gen, p_idle_s) n;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION auth.refresh_next(uuid, uuid, int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.refresh_next(uuid, uuid, int, int) TO reciprocal_app;
