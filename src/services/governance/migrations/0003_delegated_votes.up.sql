-- Delegated club votes (docs/governance.md "Delegated club votes"): a member's delegate casts
-- the member's vote on a club proposal. The vote row says who cast it on whose behalf: voter_id
-- is the delegator (whose vote and weight it is), delegate_id the member who cast it, and
-- delegation_id the delegation it was cast under. A delegation gets an id, which a change of
-- delegate replaces (a revoked delegation is deleted, so its id no longer resolves).
ALTER TABLE governance.delegations
    ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX delegations_id_idx ON governance.delegations (id);

ALTER TABLE governance.votes
    ADD COLUMN delegate_id uuid,
    ADD COLUMN delegation_id uuid,
    ADD CONSTRAINT votes_delegated CHECK ((delegate_id IS NULL) = (delegation_id IS NULL)
                                          AND delegate_id IS DISTINCT FROM voter_id);

-- The effective ballots: a voter's own row (cast by the voter, or by its delegate on its
-- behalf: via = that delegate), else (one hop) the direct vote of the delegate snapshotted at
-- opening. A vote a delegate cast on someone else's behalf is not passed on again (no chains).
CREATE OR REPLACE FUNCTION governance.ballots(pid uuid) RETURNS TABLE (voter_id uuid,
                                                                      choice text,
                                                                      weight bigint, via uuid)
    LANGUAGE sql STABLE
    AS $$ SELECT e.voter_id, coalesce(v.choice, d.choice), e.weight,
                 CASE WHEN v.choice IS NULL THEN coalesce(e.delegate_type, e.delegate_all)
                      ELSE v.delegate_id END
            FROM governance.eligible e
            LEFT JOIN governance.votes v ON v.proposal_id = e.proposal_id
                 AND v.voter_id = e.voter_id
            LEFT JOIN governance.votes d ON d.proposal_id = e.proposal_id
                 AND d.voter_id = coalesce(e.delegate_type, e.delegate_all)
                 AND d.voter_id <> e.voter_id
                 AND d.delegate_id IS NULL
                 AND EXISTS (SELECT 1 FROM governance.eligible x
                             WHERE x.proposal_id = e.proposal_id AND x.voter_id = d.voter_id)
           WHERE e.proposal_id = pid AND coalesce(v.choice, d.choice) IS NOT NULL $$;

-- The live tally, with the votes delegates cast on someone's behalf (delegated_votes, among
-- direct_votes: the rows) and the voters counted through a delegate either way (delegated).
CREATE OR REPLACE FUNCTION governance.tally_doc(pid uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$ SELECT jsonb_build_object(
                 'choices', coalesce((SELECT jsonb_object_agg(choice, w) FROM (SELECT choice,
                     sum(weight) AS w FROM governance.ballots(pid) GROUP BY choice) c), '{}'),
                 'voters', (SELECT count(*) FROM governance.ballots(pid)),
                 'turnout_weight', (SELECT coalesce(sum(weight), 0) FROM governance.ballots(pid)),
                 'delegated', (SELECT count(*) FROM governance.ballots(pid) WHERE via IS NOT NULL),
                 'direct_votes', (SELECT count(*) FROM governance.votes v
                                  WHERE v.proposal_id = pid),
                 'delegated_votes', (SELECT count(*) FROM governance.votes v
                                     WHERE v.proposal_id = pid AND v.delegate_id IS NOT NULL)) $$;
