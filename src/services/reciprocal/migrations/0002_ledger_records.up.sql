-- The ledger record of an agreement's activation (issue 11): written as `pending` in the
-- transaction that activates the agreement, so an activation is never lost; the sweep submits
-- it to the ledger service (agreement.activated, endorsed by every party's admin identity) and
-- keeps it pending, with the reason, while that is not possible (no ledger organisation for a
-- party, ledger down, ...). Visible with its agreement.
CREATE TABLE reciprocal.ledger_records (
    agreement_id uuid PRIMARY KEY REFERENCES reciprocal.agreements (id),
    type         text NOT NULL DEFAULT 'agreement.activated',
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'submitted')),
    tx_id        text CHECK (tx_id ~ '^[0-9a-f]{64}$'),
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text CHECK (char_length(last_error) <= 400),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_records_pending_idx ON reciprocal.ledger_records (created_at)
    WHERE status = 'pending';
ALTER TABLE reciprocal.ledger_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.ledger_records FORCE ROW LEVEL SECURITY;
CREATE POLICY ledger_records_party ON reciprocal.ledger_records
    USING (EXISTS (SELECT 1 FROM reciprocal.agreements a WHERE a.id = agreement_id))
    WITH CHECK (EXISTS (SELECT 1 FROM reciprocal.agreements a WHERE a.id = agreement_id));
GRANT SELECT, INSERT, UPDATE ON reciprocal.ledger_records TO reciprocal_app;

-- agreement_doc gains `ledger` ({status, tx_id, attempts, last_error} or null).
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
                       'attempts', l.attempts, 'last_error', l.last_error)
                   FROM reciprocal.ledger_records l WHERE l.agreement_id = a.id),
        'activated_at', reciprocal.ts(a.activated_at), 'ended_at', reciprocal.ts(a.ended_at),
        'created_at', reciprocal.ts(a.created_at), 'updated_at', reciprocal.ts(a.updated_at))
    $$;
