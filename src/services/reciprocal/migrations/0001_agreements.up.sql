-- reciprocal service: agreements between clubs (issue 11). A club sees and changes only the
-- agreements it is a party to (club_ids holds every party; RLS on it), a network administrator
-- (and the scheduler, which runs in that scope) sees all.
CREATE SCHEMA reciprocal;
GRANT USAGE ON SCHEMA reciprocal TO reciprocal_app;

CREATE FUNCTION reciprocal.ts(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

CREATE TABLE reciprocal.agreements (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status           text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'active',
                         'suspended', 'terminated', 'rejected', 'withdrawn', 'expired')),
    proposer_club_id uuid NOT NULL,
    club_ids         uuid[] NOT NULL CHECK (cardinality(club_ids) BETWEEN 2 AND 16),
    starts_on        date NOT NULL,
    ends_on          date,
    notice_days      integer NOT NULL DEFAULT 30 CHECK (notice_days BETWEEN 0 AND 365),
    terms            jsonb NOT NULL CHECK (jsonb_typeof(terms) = 'object'),
    suspended_by     uuid,
    notice_by        uuid,
    notice_given_at  timestamptz,
    notice_reason    text CHECK (char_length(notice_reason) <= 500),
    terminates_on    date,
    activated_at     timestamptz,
    ended_at         timestamptz,
    created_by       uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_on IS NULL OR ends_on >= starts_on),
    CHECK (proposer_club_id = ANY (club_ids))
);
CREATE INDEX agreements_created_idx ON reciprocal.agreements (created_at, id);
CREATE INDEX agreements_clubs_idx ON reciprocal.agreements USING gin (club_ids);
CREATE INDEX agreements_open_idx ON reciprocal.agreements (status)
    WHERE status IN ('proposed', 'active', 'suspended');

ALTER TABLE reciprocal.agreements ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.agreements FORCE ROW LEVEL SECURITY;
CREATE POLICY agreements_party ON reciprocal.agreements
    USING (core.is_network_admin() OR core.current_club() = ANY (club_ids))
    WITH CHECK (core.is_network_admin() OR core.current_club() = ANY (club_ids));
GRANT SELECT, INSERT, UPDATE ON reciprocal.agreements TO reciprocal_app;

-- One row per party: its acceptance. Visible with the agreement; a club updates only its own.
CREATE TABLE reciprocal.parties (
    agreement_id uuid NOT NULL REFERENCES reciprocal.agreements (id),
    club_id      uuid NOT NULL,
    role         text NOT NULL CHECK (role IN ('proposer', 'party')),
    accepted_at  timestamptz,
    accepted_by  uuid,
    PRIMARY KEY (agreement_id, club_id)
);
CREATE INDEX parties_club_idx ON reciprocal.parties (club_id, agreement_id);
ALTER TABLE reciprocal.parties ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.parties FORCE ROW LEVEL SECURITY;
CREATE POLICY parties_read ON reciprocal.parties FOR SELECT
    USING (EXISTS (SELECT 1 FROM reciprocal.agreements a WHERE a.id = agreement_id));
CREATE POLICY parties_create ON reciprocal.parties FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM reciprocal.agreements a WHERE a.id = agreement_id));
CREATE POLICY parties_update ON reciprocal.parties FOR UPDATE
    USING (core.is_network_admin() OR club_id = core.current_club())
    WITH CHECK (core.is_network_admin() OR club_id = core.current_club());
GRANT SELECT, INSERT, UPDATE ON reciprocal.parties TO reciprocal_app;

-- Every transition: who (user, club; NULL club = the scheduler), what, why, when. Append-only.
CREATE TABLE reciprocal.agreement_transitions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agreement_id  uuid NOT NULL REFERENCES reciprocal.agreements (id),
    club_id       uuid,
    actor_user_id uuid,
    action        text NOT NULL,
    from_status   text,
    to_status     text NOT NULL,
    reason        text CHECK (char_length(reason) <= 500),
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agreement_transitions_idx ON reciprocal.agreement_transitions (agreement_id, id);
ALTER TABLE reciprocal.agreement_transitions ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.agreement_transitions FORCE ROW LEVEL SECURITY;
CREATE POLICY transitions_read ON reciprocal.agreement_transitions FOR SELECT
    USING (EXISTS (SELECT 1 FROM reciprocal.agreements a WHERE a.id = agreement_id));
CREATE POLICY transitions_create ON reciprocal.agreement_transitions FOR INSERT
    WITH CHECK ((core.is_network_admin() OR club_id = core.current_club())
                AND EXISTS (SELECT 1 FROM reciprocal.agreements a WHERE a.id = agreement_id));
GRANT SELECT, INSERT ON reciprocal.agreement_transitions TO reciprocal_app;

-- The agreement document every operation returns (parties in the order of club_ids).
CREATE FUNCTION reciprocal.agreement_doc(a reciprocal.agreements) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'status', a.status, 'proposer_club_id', a.proposer_club_id,
        'clubs', to_jsonb(a.club_ids), 'starts_on', a.starts_on, 'ends_on', a.ends_on,
        'notice_days', a.notice_days, 'terms', a.terms,
        'parties', (SELECT coalesce(jsonb_agg(jsonb_build_object('club_id', p.club_id,
                        'role', p.role, 'accepted', p.accepted_at IS NOT NULL,
                        'accepted_at', reciprocal.ts(p.accepted_at))
                        ORDER BY array_position(a.club_ids, p.club_id)), '[]')
                    FROM reciprocal.parties p WHERE p.agreement_id = a.id),
        'suspended_by', a.suspended_by,
        'termination', CASE WHEN a.notice_given_at IS NULL THEN NULL ELSE jsonb_build_object(
            'by_club_id', a.notice_by, 'given_at', reciprocal.ts(a.notice_given_at),
            'effective_on', a.terminates_on, 'reason', a.notice_reason) END,
        'activated_at', reciprocal.ts(a.activated_at), 'ended_at', reciprocal.ts(a.ended_at),
        'created_at', reciprocal.ts(a.created_at), 'updated_at', reciprocal.ts(a.updated_at))
    $$;
GRANT EXECUTE ON FUNCTION reciprocal.agreement_doc(reciprocal.agreements), reciprocal.ts(timestamptz)
    TO reciprocal_app;

SELECT core.create_outbox('reciprocal');
