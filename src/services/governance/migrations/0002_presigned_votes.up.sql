-- Pre-signed network votes (docs/governance.md "Pre-signed votes"): a club that holds its own
-- ledger keys signs its governance.vote_cast transaction itself; the ledger record keeps the
-- transaction (base64) and the club's endorsement, which the scheduler submits as they are
-- (no server endorsement). The vote says it was signed by the club.
ALTER TABLE governance.ledger_records
    ADD COLUMN tx text,
    ADD COLUMN endorsements jsonb CHECK (endorsements IS NULL OR jsonb_typeof(endorsements) = 'array');
ALTER TABLE governance.votes
    ADD COLUMN signed boolean NOT NULL DEFAULT false;
