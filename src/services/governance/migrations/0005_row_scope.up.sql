-- The proposal's visibility on its rows (docs/governance.md "Bench: the proposal's scope on its
-- rows"). eligible, votes and ledger_records were visible through an EXISTS sub-query on
-- governance.proposals in their policies (the proposal's own policy applied inside it): every
-- read and write of a cast evaluated it (four sub-plans per cast, hashed over a sequential scan
-- of governance.proposals in the cast's generic plan). Each row now carries its proposal's
-- scope and club (prop_scope, prop_club_id), and the policies are the proposal's policy on those
-- columns. They cannot disagree with the proposal: the foreign key is (proposal_id, prop_scope,
-- prop_club_id) -> proposals (id, scope, club_id), which replaces the key on proposal_id alone
-- (one check per row, as before; a proposal's scope and club never change).
SELECT set_config('app.network_admin', 'on', true); -- the backfill sees every tenant's rows

CREATE UNIQUE INDEX proposals_scope_key ON governance.proposals (id, scope, club_id);
ALTER TABLE governance.proposals
    ADD CONSTRAINT proposals_scope_key UNIQUE USING INDEX proposals_scope_key;

ALTER TABLE governance.eligible ADD COLUMN prop_scope text, ADD COLUMN prop_club_id uuid;
ALTER TABLE governance.votes ADD COLUMN prop_scope text, ADD COLUMN prop_club_id uuid;
ALTER TABLE governance.ledger_records ADD COLUMN prop_scope text, ADD COLUMN prop_club_id uuid;
UPDATE governance.eligible x SET prop_scope = p.scope, prop_club_id = p.club_id
    FROM governance.proposals p WHERE p.id = x.proposal_id;
UPDATE governance.votes x SET prop_scope = p.scope, prop_club_id = p.club_id
    FROM governance.proposals p WHERE p.id = x.proposal_id;
UPDATE governance.ledger_records x SET prop_scope = p.scope, prop_club_id = p.club_id
    FROM governance.proposals p WHERE p.id = x.proposal_id;

ALTER TABLE governance.eligible
    ALTER COLUMN prop_scope SET NOT NULL, ALTER COLUMN prop_club_id SET NOT NULL,
    DROP CONSTRAINT eligible_proposal_id_fkey,
    ADD CONSTRAINT eligible_proposal_fkey FOREIGN KEY (proposal_id, prop_scope, prop_club_id)
        REFERENCES governance.proposals (id, scope, club_id);
ALTER TABLE governance.votes
    ALTER COLUMN prop_scope SET NOT NULL, ALTER COLUMN prop_club_id SET NOT NULL,
    DROP CONSTRAINT votes_proposal_id_fkey,
    ADD CONSTRAINT votes_proposal_fkey FOREIGN KEY (proposal_id, prop_scope, prop_club_id)
        REFERENCES governance.proposals (id, scope, club_id);
ALTER TABLE governance.ledger_records
    ALTER COLUMN prop_scope SET NOT NULL, ALTER COLUMN prop_club_id SET NOT NULL,
    DROP CONSTRAINT ledger_records_proposal_id_fkey,
    ADD CONSTRAINT ledger_records_proposal_fkey
        FOREIGN KEY (proposal_id, prop_scope, prop_club_id)
        REFERENCES governance.proposals (id, scope, club_id);

-- governance.proposals' policy (proposals_visible), on the row's copy of its scope and club
ALTER POLICY eligible_visible ON governance.eligible
    USING (core.is_network_admin() OR prop_club_id = core.current_club()
           OR (prop_scope = 'network' AND core.current_club() IS NOT NULL))
    WITH CHECK (core.is_network_admin() OR prop_club_id = core.current_club()
                OR (prop_scope = 'network' AND core.current_club() IS NOT NULL));
ALTER POLICY votes_visible ON governance.votes
    USING (core.is_network_admin() OR prop_club_id = core.current_club()
           OR (prop_scope = 'network' AND core.current_club() IS NOT NULL));
ALTER POLICY ledger_records_visible ON governance.ledger_records
    USING (core.is_network_admin() OR prop_club_id = core.current_club()
           OR (prop_scope = 'network' AND core.current_club() IS NOT NULL))
    WITH CHECK (core.is_network_admin() OR prop_club_id = core.current_club()
                OR (prop_scope = 'network' AND core.current_club() IS NOT NULL));
