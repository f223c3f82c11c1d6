-- The ledger pass reads the next pending records in its order (never tried first, then the least
-- recently tried: gov_ledger.c) through an index in that order, LIMIT 100 stopping after the
-- batch: the created_at index it replaces left every pending record to read and sort on each
-- batch (7.6 ms a batch of 100 with 4,500 pending, stop 19's profile; nothing else used it).
DROP INDEX governance.ledger_records_pending_idx;
CREATE INDEX ledger_records_next_idx ON governance.ledger_records ((attempts > 0), updated_at, id)
    WHERE status = 'pending';
