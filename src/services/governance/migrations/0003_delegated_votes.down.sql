CREATE OR REPLACE FUNCTION governance.tally_doc(pid uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$ SELECT jsonb_build_object(
                 'choices', coalesce((SELECT jsonb_object_agg(choice, w) FROM (SELECT choice,
                     sum(weight) AS w FROM governance.ballots(pid) GROUP BY choice) c), '{}'),
                 'voters', (SELECT count(*) FROM governance.ballots(pid)),
                 'turnout_weight', (SELECT coalesce(sum(weight), 0) FROM governance.ballots(pid)),
                 'direct_votes', (SELECT count(*) FROM governance.votes v
                                  WHERE v.proposal_id = pid)) $$;
CREATE OR REPLACE FUNCTION governance.ballots(pid uuid) RETURNS TABLE (voter_id uuid,
                                                                      choice text,
                                                                      weight bigint, via uuid)
    LANGUAGE sql STABLE
    AS $$ SELECT e.voter_id, coalesce(v.choice, d.choice), e.weight,
                 CASE WHEN v.choice IS NULL THEN coalesce(e.delegate_type, e.delegate_all) END
            FROM governance.eligible e
            LEFT JOIN governance.votes v ON v.proposal_id = e.proposal_id
                 AND v.voter_id = e.voter_id
            LEFT JOIN governance.votes d ON d.proposal_id = e.proposal_id
                 AND d.voter_id = coalesce(e.delegate_type, e.delegate_all)
                 AND d.voter_id <> e.voter_id
                 AND EXISTS (SELECT 1 FROM governance.eligible x
                             WHERE x.proposal_id = e.proposal_id AND x.voter_id = d.voter_id)
           WHERE e.proposal_id = pid AND coalesce(v.choice, d.choice) IS NOT NULL $$;
ALTER TABLE governance.votes DROP CONSTRAINT votes_delegated,
    DROP COLUMN delegation_id, DROP COLUMN delegate_id;
DROP INDEX governance.delegations_id_idx;
ALTER TABLE governance.delegations DROP COLUMN id;
