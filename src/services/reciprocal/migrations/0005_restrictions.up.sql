-- reciprocal service: suspensions of reciprocity and visitor bans (issue 11). A home club
-- suspends one member's reciprocity everywhere (host_club_id NULL) or at one partner club; a
-- host club bans a visitor at its own club. Each with reason, optional last day (ends_on),
-- actor and time; lifted (ended early) with actor, time and reason. A suspension is visible to
-- its home club only, a ban to its host club only (RLS); the rules read both through
-- reciprocal.restriction_of, which answers a code and nothing else.
CREATE TABLE reciprocal.suspensions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    home_club_id uuid NOT NULL,
    member_id    uuid NOT NULL,
    host_club_id uuid,
    reason       text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    ends_on      date,
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    lifted_at    timestamptz,
    lifted_by    uuid,
    lift_reason  text CHECK (char_length(lift_reason) <= 500),
    CHECK (host_club_id IS NULL OR host_club_id <> home_club_id)
);
CREATE INDEX suspensions_member_idx ON reciprocal.suspensions (member_id) WHERE lifted_at IS NULL;
CREATE INDEX suspensions_created_idx ON reciprocal.suspensions (home_club_id, created_at, id);
ALTER TABLE reciprocal.suspensions ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.suspensions FORCE ROW LEVEL SECURITY;
CREATE POLICY suspensions_home ON reciprocal.suspensions
    USING (core.is_network_admin() OR core.current_club() = home_club_id)
    WITH CHECK (core.is_network_admin() OR core.current_club() = home_club_id);
GRANT SELECT, INSERT, UPDATE ON reciprocal.suspensions TO reciprocal_app;

CREATE TABLE reciprocal.visitor_bans (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    host_club_id uuid NOT NULL,
    member_id    uuid NOT NULL,
    reason       text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    ends_on      date,
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    lifted_at    timestamptz,
    lifted_by    uuid,
    lift_reason  text CHECK (char_length(lift_reason) <= 500)
);
CREATE INDEX visitor_bans_member_idx ON reciprocal.visitor_bans (member_id) WHERE lifted_at IS NULL;
CREATE INDEX visitor_bans_created_idx ON reciprocal.visitor_bans (host_club_id, created_at, id);
ALTER TABLE reciprocal.visitor_bans ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.visitor_bans FORCE ROW LEVEL SECURITY;
CREATE POLICY visitor_bans_host ON reciprocal.visitor_bans
    USING (core.is_network_admin() OR core.current_club() = host_club_id)
    WITH CHECK (core.is_network_admin() OR core.current_club() = host_club_id);
GRANT SELECT, INSERT, UPDATE ON reciprocal.visitor_bans TO reciprocal_app;

-- The restriction that refuses a visit of member (home club home) at host arriving on arrive:
-- 'reciprocity_suspended', 'visitor_banned' or NULL. Runs as the owner with app.network_admin on
-- for its one query (then the previous value back), like auth.token_club: the home club learns
-- nothing of the host's bans and the host nothing of the home club's suspensions but this code.
CREATE FUNCTION reciprocal.restriction_of(member uuid, home uuid, host uuid, arrive date)
    RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    prev text := current_setting('app.network_admin', true);
    code text;
BEGIN
    PERFORM set_config('app.network_admin', 'on', true);
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM reciprocal.suspensions s WHERE s.member_id = member
                     AND s.home_club_id = home AND (s.host_club_id IS NULL OR s.host_club_id = host)
                     AND s.lifted_at IS NULL AND (s.ends_on IS NULL OR s.ends_on >= arrive))
            THEN 'reciprocity_suspended'
        WHEN EXISTS (SELECT 1 FROM reciprocal.visitor_bans b WHERE b.member_id = member
                     AND b.host_club_id = host AND b.lifted_at IS NULL
                     AND (b.ends_on IS NULL OR b.ends_on >= arrive))
            THEN 'visitor_banned'
        END INTO code;
    PERFORM set_config('app.network_admin', coalesce(prev, 'off'), true);
    RETURN code;
END
$$;
REVOKE ALL ON FUNCTION reciprocal.restriction_of(uuid, uuid, uuid, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reciprocal.restriction_of(uuid, uuid, uuid, date) TO reciprocal_app;

-- The document every operation returns (kind: 'suspension' or 'ban'); status active, lifted or
-- expired (the last day is before today in UTC).
CREATE FUNCTION reciprocal.restriction_status(lifted_at timestamptz, ends_on date) RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT CASE WHEN lifted_at IS NOT NULL THEN 'lifted'
                      WHEN ends_on IS NOT NULL AND ends_on < (now() AT TIME ZONE 'UTC')::date
                          THEN 'expired'
                      ELSE 'active' END $$;
GRANT EXECUTE ON FUNCTION reciprocal.restriction_status(timestamptz, date) TO reciprocal_app;
