-- The ledger record of a verified visit (issue 11): written as `pending` in the check-in's
-- transaction (the door never waits for the ledger); the sweep submits it (visit.verified,
-- endorsed by the host's and the home club's member identities) and retries while it cannot.
-- The member appears on the ledger only as a salted commitment SHA-256(salt || member number)
-- with a random 32-byte salt per visit kept here, so either club can open it to an auditor.
-- Visible with its visit (home and host club).
CREATE TABLE reciprocal.visit_ledger_records (
    visit_id          uuid PRIMARY KEY REFERENCES reciprocal.visits (id),
    type              text NOT NULL DEFAULT 'visit.verified',
    member_salt       bytea NOT NULL CHECK (length(member_salt) = 32),
    member_commitment bytea NOT NULL CHECK (length(member_commitment) = 32),
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'submitted')),
    tx_id             text CHECK (tx_id ~ '^[0-9a-f]{64}$'),
    attempts          integer NOT NULL DEFAULT 0,
    last_error        text CHECK (char_length(last_error) <= 400),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visit_ledger_records_pending_idx ON reciprocal.visit_ledger_records (created_at)
    WHERE status = 'pending';
ALTER TABLE reciprocal.visit_ledger_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.visit_ledger_records FORCE ROW LEVEL SECURITY;
CREATE POLICY visit_ledger_records_visit ON reciprocal.visit_ledger_records
    USING (EXISTS (SELECT 1 FROM reciprocal.visits v WHERE v.id = visit_id))
    WITH CHECK (EXISTS (SELECT 1 FROM reciprocal.visits v WHERE v.id = visit_id));
GRANT SELECT, INSERT, UPDATE ON reciprocal.visit_ledger_records TO reciprocal_app;

-- An agreement whose parties include a club holding its own ledger keys stays `proposed` until
-- its activation record commits: the record `holds_activation`, goes `needs_endorsements` with
-- the transaction to sign (tx, base64) and the endorsements the server made, and the sweep
-- activates the agreement once the ledger reports the transaction committed VALID.
ALTER TABLE reciprocal.ledger_records DROP CONSTRAINT ledger_records_status_check;
ALTER TABLE reciprocal.ledger_records ADD CONSTRAINT ledger_records_status_check
    CHECK (status IN ('pending', 'needs_endorsements', 'submitted'));
ALTER TABLE reciprocal.ledger_records ADD COLUMN holds_activation boolean NOT NULL DEFAULT false;
ALTER TABLE reciprocal.ledger_records ADD COLUMN tx text;
ALTER TABLE reciprocal.ledger_records ADD COLUMN endorsements jsonb;
ALTER TABLE reciprocal.ledger_records ADD COLUMN policy text;

-- agreement_doc's `ledger` gains holds_activation, tx, endorsements and policy.
CREATE OR REPLACE FUNCTION reciprocal.agreement_doc(a reciprocal.agreements) RETURNS jsonb
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
        'ledger', (SELECT jsonb_build_object('status', l.status, 'tx_id', l.tx_id,
                       'attempts', l.attempts, 'last_error', l.last_error,
                       'holds_activation', l.holds_activation, 'tx', l.tx,
                       'endorsements', l.endorsements, 'policy', l.policy)
                   FROM reciprocal.ledger_records l WHERE l.agreement_id = a.id),
        'activated_at', reciprocal.ts(a.activated_at), 'ended_at', reciprocal.ts(a.ended_at),
        'created_at', reciprocal.ts(a.created_at), 'updated_at', reciprocal.ts(a.updated_at))
    $$;
