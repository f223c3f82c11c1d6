-- reciprocal service: visits and letters of introduction (issue 11). A club sees only the visits
-- where it is the home club or the host club (RLS on both columns); a network administrator (and
-- the scheduler, in that scope) sees all. Which member sees which visit is the handler's rule
-- (a member sees only their own). Lifecycle (src/services/reciprocal/visit_lifecycle.h):
--   requested -> approved -> confirmed -> checked_in -> completed;
--   exits declined, cancelled, revoked, expired, no_show. Terminal states never change (trigger).
CREATE TABLE reciprocal.visits (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    home_club_id  uuid NOT NULL,
    host_club_id  uuid NOT NULL,
    member_id     uuid NOT NULL,
    agreement_id  uuid NOT NULL REFERENCES reciprocal.agreements (id),
    status        text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved',
                      'confirmed', 'checked_in', 'completed', 'declined', 'cancelled', 'revoked',
                      'expired', 'no_show')),
    arrive_on     date NOT NULL,
    depart_on     date NOT NULL,
    days          integer GENERATED ALWAYS AS (depart_on - arrive_on + 1) STORED,
    guests        integer NOT NULL DEFAULT 0 CHECK (guests BETWEEN 0 AND 20),
    facilities    text[] NOT NULL DEFAULT '{}',
    host_timezone text NOT NULL,
    requested_by  uuid,
    checked_in_at timestamptz,
    checked_in_by uuid,
    checked_out_at timestamptz,
    checked_out_by uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (host_club_id <> home_club_id),
    CHECK (depart_on >= arrive_on)
);
CREATE INDEX visits_created_idx ON reciprocal.visits (created_at, id);
CREATE INDEX visits_home_idx ON reciprocal.visits (home_club_id, created_at, id);
CREATE INDEX visits_host_idx ON reciprocal.visits (host_club_id, created_at, id);
CREATE INDEX visits_member_host_idx ON reciprocal.visits (member_id, host_club_id, arrive_on);
CREATE INDEX visits_open_idx ON reciprocal.visits (status, depart_on)
    WHERE status IN ('requested', 'approved', 'confirmed', 'checked_in');

ALTER TABLE reciprocal.visits ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.visits FORCE ROW LEVEL SECURITY;
CREATE POLICY visits_side ON reciprocal.visits
    USING (core.is_network_admin() OR core.current_club() = home_club_id
           OR core.current_club() = host_club_id)
    WITH CHECK (core.is_network_admin() OR core.current_club() = home_club_id
                OR core.current_club() = host_club_id);
GRANT SELECT, INSERT, UPDATE ON reciprocal.visits TO reciprocal_app;

-- A terminal visit never changes (the lifecycle table says the same; this is the last word).
CREATE FUNCTION reciprocal.visit_terminal_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF OLD.status IN ('completed', 'declined', 'cancelled', 'revoked', 'expired', 'no_show') THEN
        RAISE EXCEPTION 'visit % is %: a terminal visit never changes', OLD.id, OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER visits_terminal BEFORE UPDATE ON reciprocal.visits
    FOR EACH ROW EXECUTE FUNCTION reciprocal.visit_terminal_guard();

-- Every transition: who (user, club; NULL club = the scheduler), what, why, when. Append-only.
CREATE TABLE reciprocal.visit_transitions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_id      uuid NOT NULL REFERENCES reciprocal.visits (id),
    club_id       uuid,
    actor_user_id uuid,
    action        text NOT NULL,
    from_status   text,
    to_status     text NOT NULL,
    reason        text CHECK (char_length(reason) <= 500),
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visit_transitions_idx ON reciprocal.visit_transitions (visit_id, id);
ALTER TABLE reciprocal.visit_transitions ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.visit_transitions FORCE ROW LEVEL SECURITY;
CREATE POLICY visit_transitions_read ON reciprocal.visit_transitions FOR SELECT
    USING (EXISTS (SELECT 1 FROM reciprocal.visits v WHERE v.id = visit_id));
CREATE POLICY visit_transitions_create ON reciprocal.visit_transitions FOR INSERT
    WITH CHECK ((core.is_network_admin() OR club_id = core.current_club())
                AND EXISTS (SELECT 1 FROM reciprocal.visits v WHERE v.id = visit_id));
GRANT SELECT, INSERT ON reciprocal.visit_transitions TO reciprocal_app;

-- A home club's LOI signing keys (Ed25519). The public part is public (GET
-- /clubs/{id}/loi-keys): every caller reads every row; only the owning club adds or retires.
CREATE TABLE reciprocal.loi_keys (
    kid         text PRIMARY KEY,
    club_id     uuid NOT NULL,
    public_key  bytea NOT NULL CHECK (length(public_key) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
CREATE UNIQUE INDEX loi_keys_live_idx ON reciprocal.loi_keys (club_id) WHERE retired_at IS NULL;
ALTER TABLE reciprocal.loi_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.loi_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY loi_keys_read ON reciprocal.loi_keys FOR SELECT USING (true);
CREATE POLICY loi_keys_write ON reciprocal.loi_keys FOR INSERT
    WITH CHECK (core.is_network_admin() OR club_id = core.current_club());
CREATE POLICY loi_keys_retire ON reciprocal.loi_keys FOR UPDATE
    USING (core.is_network_admin() OR club_id = core.current_club())
    WITH CHECK (core.is_network_admin() OR club_id = core.current_club());
GRANT SELECT, INSERT, UPDATE ON reciprocal.loi_keys TO reciprocal_app;

-- The private key, sealed under RECIPROCAL_LOI_KEK with the club id as associated data
-- (lib/credentials/signkey), like member.club_key_secrets: the owning club only (and a
-- network administrator approving on its behalf).
CREATE TABLE reciprocal.loi_key_secrets (
    kid         text PRIMARY KEY REFERENCES reciprocal.loi_keys (kid),
    club_id     uuid NOT NULL,
    sealed_key  bytea NOT NULL,
    seal_nonce  bytea NOT NULL
);
ALTER TABLE reciprocal.loi_key_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.loi_key_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY loi_key_secrets_owner ON reciprocal.loi_key_secrets
    USING (core.is_network_admin() OR club_id = core.current_club())
    WITH CHECK (core.is_network_admin() OR club_id = core.current_club());
GRANT SELECT, INSERT ON reciprocal.loi_key_secrets TO reciprocal_app;

-- Letters of introduction: one per approved visit (visible with the visit).
CREATE TABLE reciprocal.lois (
    visit_id    uuid PRIMARY KEY REFERENCES reciprocal.visits (id),
    kid         text NOT NULL REFERENCES reciprocal.loi_keys (kid),
    code        text NOT NULL UNIQUE CHECK (char_length(code) = 22),
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz NOT NULL,
    token       text NOT NULL,
    revoked_at  timestamptz,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to > valid_from)
);
ALTER TABLE reciprocal.lois ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.lois FORCE ROW LEVEL SECURITY;
CREATE POLICY lois_visit ON reciprocal.lois
    USING (EXISTS (SELECT 1 FROM reciprocal.visits v WHERE v.id = visit_id))
    WITH CHECK (EXISTS (SELECT 1 FROM reciprocal.visits v WHERE v.id = visit_id));
GRANT SELECT, INSERT, UPDATE ON reciprocal.lois TO reciprocal_app;

-- The visit document every operation returns (the letter once issued).
CREATE FUNCTION reciprocal.visit_doc(v reciprocal.visits) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'status', v.status, 'member_id', v.member_id,
        'home_club_id', v.home_club_id, 'host_club_id', v.host_club_id,
        'agreement_id', v.agreement_id, 'arrive_on', v.arrive_on, 'depart_on', v.depart_on,
        'days', v.days, 'guests', v.guests, 'facilities', to_jsonb(v.facilities),
        'host_timezone', v.host_timezone, 'requested_by', v.requested_by,
        'checked_in_at', reciprocal.ts(v.checked_in_at), 'checked_in_by', v.checked_in_by,
        'checked_out_at', reciprocal.ts(v.checked_out_at),
        'loi', (SELECT jsonb_build_object('token', l.token, 'code', l.code, 'kid', l.kid,
                    'valid_from', reciprocal.ts(l.valid_from), 'valid_to', reciprocal.ts(l.valid_to),
                    'revoked', l.revoked_at IS NOT NULL)
                FROM reciprocal.lois l WHERE l.visit_id = v.id),
        'created_at', reciprocal.ts(v.created_at), 'updated_at', reciprocal.ts(v.updated_at))
    $$;
GRANT EXECUTE ON FUNCTION reciprocal.visit_doc(reciprocal.visits) TO reciprocal_app;
