-- A visit.verified record whose host or home club holds its own ledger keys: instead of being
-- retried forever with the ledger's "no key" error, the sweep endorses it with the keys the
-- server holds and stores it `needs_endorsements` with the transaction to sign (tx, base64),
-- the server's endorsements and the policy; the club signs and submits it to the ledger, and
-- the next sweep marks it `submitted` once the ledger reports it committed VALID.
ALTER TABLE reciprocal.visit_ledger_records DROP CONSTRAINT visit_ledger_records_status_check;
ALTER TABLE reciprocal.visit_ledger_records ADD CONSTRAINT visit_ledger_records_status_check
    CHECK (status IN ('pending', 'needs_endorsements', 'submitted'));
ALTER TABLE reciprocal.visit_ledger_records ADD COLUMN tx text;
ALTER TABLE reciprocal.visit_ledger_records ADD COLUMN endorsements jsonb;
ALTER TABLE reciprocal.visit_ledger_records ADD COLUMN policy text;
CREATE INDEX visit_ledger_records_held_idx ON reciprocal.visit_ledger_records (updated_at)
    WHERE status = 'needs_endorsements';
