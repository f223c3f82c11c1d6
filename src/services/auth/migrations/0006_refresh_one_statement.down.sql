-- back to 0004_refresh_rotate's auth.refresh_rotate (a locking read, then each write)
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
        IF NOT FOUND THEN
            v_outcome := 'invalid';
        ELSE
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
            UPDATE auth.refresh_tokens SET used_at = now() WHERE club_id = v_club AND id = t.tid;
            UPDATE auth.sessions SET last_used_at = now() WHERE club_id = v_club AND id = t.sid;
            INSERT INTO auth.refresh_tokens (club_id, session_id, token_hash)
                 VALUES (v_club, t.sid, p_new_hash);
            SELECT u.email,
                   coalesce(jsonb_agg(r.role ORDER BY r.role) FILTER (WHERE r.role IS NOT NULL),
                            '[]')::text,
                   string_agg(c.perms, ' ')
              INTO v_email, v_roles, v_extra
              FROM auth.users u
              LEFT JOIN auth.user_roles r ON r.club_id = u.club_id AND r.user_id = u.id
              LEFT JOIN auth.roles c ON c.club_id = r.club_id AND c.name = r.role
             WHERE u.club_id = v_club AND u.id = t.uid
             GROUP BY u.email;
            v_outcome := 'ok';
        END IF;
        PERFORM set_config('app.club_id', coalesce(prev, ''), true);
    END IF;
    RETURN QUERY SELECT v_outcome, v_club, v_sid, v_uid, v_email, v_roles, v_extra;
END
$$;
