-- 0006_refresh_one_statement: the rotation of a valid refresh token in ONE SQL statement (issue
-- 16). auth.refresh_rotate keeps its signature and outcomes (0004_refresh_rotate), but the
-- usual case, a valid token, no longer runs a locking read, a suspension check, two UPDATEs, an
-- INSERT and a roles read one after the other: after the club look-up (auth.token_club) and the
-- scope, one statement with data-modifying CTEs
--   s: moves the session's last_used_at, only when the token is unused and the session is
--      live (not revoked, within its lifetime and idle timeout), its account active and its
--      club not suspended (the session row is locked by this UPDATE, as FOR UPDATE did);
--   tok: marks the token used (only while still unused: a concurrent rotation of the same token
--      that committed first leaves nothing to mark);
--   i: inserts the new token's hash;
-- and returns what the access token needs (email, roles, custom roles' permissions).
-- When it rotates nothing, the 0004 logic (the locking read) tells why: invalid, reused,
-- expired / idle (the session is revoked), suspended. Races end as before: two rotations of one
-- token -> the second waits on the session row, then finds the token used (reused); a
-- revocation committed first -> the UPDATE of s re-checks revoked_at and finds it revoked
-- (invalid).
CREATE OR REPLACE FUNCTION auth.refresh_rotate(p_hash text, p_new_hash text, p_idle_s int)
    RETURNS TABLE (r_outcome text, r_club uuid, r_session uuid, r_user uuid, r_email text,
                   r_roles text, r_extra text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    prev text := current_setting('app.club_id', true);
    v_club uuid := auth.token_club('refresh', p_hash);
    v_outcome text := 'invalid';
    v_email text;
    v_roles text;
    v_extra text;
    v_sid uuid;
    v_uid uuid;
    t record;
BEGIN
    IF v_club IS NOT NULL THEN
        PERFORM set_config('app.club_id', v_club::text, true);
        WITH s AS (
            UPDATE auth.sessions x SET last_used_at = now()
             WHERE x.club_id = v_club
               AND x.id = (SELECT rt.session_id FROM auth.refresh_tokens rt
                            WHERE rt.club_id = v_club AND rt.token_hash = p_hash
                              AND rt.used_at IS NULL)
               AND x.revoked_at IS NULL AND x.expires_at > now()
               AND x.last_used_at > now() - make_interval(secs => p_idle_s)
               AND EXISTS (SELECT 1 FROM auth.users u WHERE u.club_id = v_club
                              AND u.id = x.user_id AND u.status = 'active')
               AND NOT EXISTS (SELECT 1 FROM auth.club_suspensions c WHERE c.club_id = v_club)
            RETURNING x.id, x.user_id),
        tok AS (
            UPDATE auth.refresh_tokens rt SET used_at = now() FROM s
             WHERE rt.club_id = v_club AND rt.token_hash = p_hash AND rt.session_id = s.id
               AND rt.used_at IS NULL
            RETURNING s.id, s.user_id),
        i AS (
            INSERT INTO auth.refresh_tokens (club_id, session_id, token_hash)
            SELECT v_club, tok.id, p_new_hash FROM tok)
        SELECT tok.id, tok.user_id, u.email,
               (SELECT coalesce(jsonb_agg(r.role ORDER BY r.role), '[]')::text
                  FROM auth.user_roles r WHERE r.club_id = v_club AND r.user_id = tok.user_id),
               (SELECT string_agg(c.perms, ' ') FROM auth.user_roles r
                  JOIN auth.roles c ON c.club_id = r.club_id AND c.name = r.role
                 WHERE r.club_id = v_club AND r.user_id = tok.user_id)
          INTO v_sid, v_uid, v_email, v_roles, v_extra
          FROM tok JOIN auth.users u ON u.club_id = v_club AND u.id = tok.user_id;
        IF v_sid IS NOT NULL THEN
            v_outcome := 'ok';
        ELSE
            -- nothing rotated: why (0004_refresh_rotate's checks, in its order)
            SELECT rt.id AS tid, rt.used_at IS NOT NULL AS used, s.id AS sid, s.user_id AS uid,
                   s.revoked_at IS NOT NULL AS revoked, s.expires_at <= now() AS expired,
                   s.last_used_at <= now() - make_interval(secs => p_idle_s) AS idle,
                   u.status = 'active' AS active
              INTO t
              FROM auth.refresh_tokens rt
              JOIN auth.sessions s ON s.club_id = rt.club_id AND s.id = rt.session_id
              JOIN auth.users u ON u.club_id = s.club_id AND u.id = s.user_id
             WHERE rt.club_id = v_club AND rt.token_hash = p_hash
               FOR UPDATE OF rt, s;
            IF FOUND THEN
                v_sid := t.sid;
                v_uid := t.uid;
            END IF;
            IF v_sid IS NULL THEN
                v_outcome := 'invalid';
            ELSIF t.used THEN
                v_outcome := 'reused';
            ELSIF t.revoked OR NOT t.active THEN
                v_outcome := 'invalid';
            ELSIF t.expired OR t.idle THEN
                v_outcome := CASE WHEN t.expired THEN 'expired' ELSE 'idle' END;
                UPDATE auth.sessions SET revoked_at = now(), revoked_reason = v_outcome
                 WHERE club_id = v_club AND id = t.sid AND revoked_at IS NULL;
            ELSIF EXISTS (SELECT 1 FROM auth.club_suspensions c WHERE c.club_id = v_club) THEN
                v_outcome := 'suspended';
            ELSE
                v_outcome := 'invalid'; -- changed under us (a revocation committed meanwhile)
            END IF;
        END IF;
        PERFORM set_config('app.club_id', coalesce(prev, ''), true);
    END IF;
    RETURN QUERY SELECT v_outcome, v_club, v_sid, v_uid, v_email, v_roles, v_extra;
END
$$;
