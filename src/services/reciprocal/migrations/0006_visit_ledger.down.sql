-- agreement_doc as in 0002, then the columns and the table.
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
ALTER TABLE reciprocal.ledger_records DROP COLUMN policy;
ALTER TABLE reciprocal.ledger_records DROP COLUMN endorsements;
ALTER TABLE reciprocal.ledger_records DROP COLUMN tx;
ALTER TABLE reciprocal.ledger_records DROP COLUMN holds_activation;
DELETE FROM reciprocal.ledger_records WHERE status = 'needs_endorsements';
ALTER TABLE reciprocal.ledger_records DROP CONSTRAINT ledger_records_status_check;
ALTER TABLE reciprocal.ledger_records ADD CONSTRAINT ledger_records_status_check
    CHECK (status IN ('pending', 'submitted'));
DROP TABLE reciprocal.visit_ledger_records;
