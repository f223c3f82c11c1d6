-- auth service: revocation that reaches access tokens at once (issue 9, docs/security.md A1,
-- A2). Gateways keep a set of revoked session ids and suspended clubs, pushed on the NATS
-- subject `auth.revoked`; a gateway that starts later or missed messages reads the recent ones
-- with auth.recent_revocations() (operation `revocations`).
--
-- A suspended club (the member service deactivated it and told the auth service through the
-- operation `club_suspend`): its sessions are revoked and no token is issued for it (login,
-- MFA step, refresh) until `club_resume`. The auth service keeps this record itself instead of
-- reading the member service's tables. Tenant table with the usual policy: a club's own
-- scope sees its row (token issue checks it there), a network administrator every row.
CREATE TABLE auth.club_suspensions (
    club_id      uuid PRIMARY KEY CHECK (club_id <> '00000000-0000-0000-0000-000000000000'),
    suspended_at timestamptz NOT NULL DEFAULT now(),
    suspended_by uuid
);
ALTER TABLE auth.club_suspensions ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.club_suspensions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON auth.club_suspensions
    USING (club_id = core.current_club() OR core.is_network_admin())
    WITH CHECK (club_id = core.current_club() OR core.is_network_admin());
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.club_suspensions TO reciprocal_app;

-- the recent revocations are read by revocation time across clubs
CREATE INDEX sessions_revoked_idx ON auth.sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Sessions revoked and clubs suspended in the last `secs` seconds (the longest an access token
-- issued before can still be accepted), for every club: ids and Unix times only. SECURITY
-- DEFINER like auth.token_club: network scope for its one query, the previous value put back.
CREATE FUNCTION auth.recent_revocations(window_s int)
    RETURNS TABLE (kind text, id uuid, at bigint)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    prev text := current_setting('app.network_admin', true);
BEGIN
    PERFORM set_config('app.network_admin', 'on', true);
    RETURN QUERY
        SELECT 'session'::text, s.id, ceil(extract(epoch FROM s.revoked_at))::bigint
          FROM auth.sessions s
         WHERE s.revoked_at > now() - make_interval(secs => window_s)
        UNION ALL
        SELECT 'club'::text, c.club_id, ceil(extract(epoch FROM c.suspended_at))::bigint
          FROM auth.club_suspensions c
         WHERE c.suspended_at > now() - make_interval(secs => window_s);
    PERFORM set_config('app.network_admin', coalesce(prev, 'off'), true);
END
$$;
REVOKE ALL ON FUNCTION auth.recent_revocations(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.recent_revocations(int) TO reciprocal_app;
