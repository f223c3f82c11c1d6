ALTER TABLE governance.votes DROP COLUMN signed;
ALTER TABLE governance.ledger_records DROP COLUMN endorsements, DROP COLUMN tx;
