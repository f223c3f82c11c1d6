DROP INDEX governance.ledger_records_next_idx;
CREATE INDEX ledger_records_pending_idx ON governance.ledger_records (created_at)
    WHERE status = 'pending';
