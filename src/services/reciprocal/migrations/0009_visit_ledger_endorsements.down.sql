DROP INDEX reciprocal.visit_ledger_records_held_idx;
ALTER TABLE reciprocal.visit_ledger_records DROP COLUMN policy;
ALTER TABLE reciprocal.visit_ledger_records DROP COLUMN endorsements;
ALTER TABLE reciprocal.visit_ledger_records DROP COLUMN tx;
UPDATE reciprocal.visit_ledger_records SET status = 'pending', tx_id = NULL
    WHERE status = 'needs_endorsements';
ALTER TABLE reciprocal.visit_ledger_records DROP CONSTRAINT visit_ledger_records_status_check;
ALTER TABLE reciprocal.visit_ledger_records ADD CONSTRAINT visit_ledger_records_status_check
    CHECK (status IN ('pending', 'submitted'));
