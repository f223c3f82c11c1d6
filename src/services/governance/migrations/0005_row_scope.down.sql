ALTER POLICY eligible_visible ON governance.eligible
    USING (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id))
    WITH CHECK (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id));
ALTER POLICY votes_visible ON governance.votes
    USING (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id));
ALTER POLICY ledger_records_visible ON governance.ledger_records
    USING (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id))
    WITH CHECK (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id));
ALTER TABLE governance.eligible DROP CONSTRAINT eligible_proposal_fkey,
    ADD CONSTRAINT eligible_proposal_id_fkey FOREIGN KEY (proposal_id)
        REFERENCES governance.proposals (id),
    DROP COLUMN prop_scope, DROP COLUMN prop_club_id;
ALTER TABLE governance.votes DROP CONSTRAINT votes_proposal_fkey,
    ADD CONSTRAINT votes_proposal_id_fkey FOREIGN KEY (proposal_id)
        REFERENCES governance.proposals (id),
    DROP COLUMN prop_scope, DROP COLUMN prop_club_id;
ALTER TABLE governance.ledger_records DROP CONSTRAINT ledger_records_proposal_fkey,
    ADD CONSTRAINT ledger_records_proposal_id_fkey FOREIGN KEY (proposal_id)
        REFERENCES governance.proposals (id),
    DROP COLUMN prop_scope, DROP COLUMN prop_club_id;
ALTER TABLE governance.proposals DROP CONSTRAINT proposals_scope_key;
