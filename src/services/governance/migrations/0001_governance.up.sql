-- governance service (issue 15): proposals of the network (member clubs vote) and of a club (its
-- members vote), their eligible-voter snapshot, votes, delegations, the actions a passed proposal
-- executes, the per-network rule overrides, the network terms, the ledger records. Network
-- proposals are visible to every club; club proposals to their club only (RLS); the scheduler
-- runs as network administrator and sees all.
CREATE SCHEMA governance;
GRANT USAGE ON SCHEMA governance TO reciprocal_app;

CREATE FUNCTION governance.ts(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

-- The network's overrides of a type's default rule (docs/governance.md "Types and rules").
CREATE TABLE governance.type_rules (
    type       text PRIMARY KEY,
    rule       jsonb NOT NULL CHECK (jsonb_typeof(rule) = 'object'),
    updated_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT ON governance.type_rules TO reciprocal_app;
GRANT INSERT, UPDATE ON governance.type_rules TO reciprocal_app;
ALTER TABLE governance.type_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE governance.type_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY type_rules_read ON governance.type_rules FOR SELECT USING (true);
CREATE POLICY type_rules_write ON governance.type_rules FOR INSERT
    WITH CHECK (core.is_network_admin());
CREATE POLICY type_rules_update ON governance.type_rules FOR UPDATE
    USING (core.is_network_admin()) WITH CHECK (core.is_network_admin());

CREATE TABLE governance.proposals (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scope            text NOT NULL CHECK (scope IN ('network', 'club')),
    club_id          uuid NOT NULL,          -- the proposing club (club scope: the club voting)
    proposer_user_id uuid,
    proposer_key     text NOT NULL,          -- club id (network) or user id (club): one live each
    type             text NOT NULL,
    title            text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    body             text NOT NULL DEFAULT '' CHECK (char_length(body) <= 20000),
    options          jsonb,                  -- board_election: the candidates
    actions          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(actions) = 'array'),
    actions_hash     text NOT NULL,
    rule             jsonb NOT NULL,         -- the type's rule when proposed (overrides applied)
    status           text NOT NULL CHECK (status IN ('draft', 'pending', 'active', 'defeated',
                         'succeeded', 'queued', 'executing', 'executed', 'expired',
                         'execution_failed', 'canceled')),
    sponsor_club_id  uuid,
    sponsored_at     timestamptz,
    voting_starts_at timestamptz,
    voting_ends_at   timestamptz,
    extended         boolean NOT NULL DEFAULT false,
    quorum_reached_at timestamptz,
    eligible_count   integer,
    eligible_weight  bigint,
    result           jsonb,
    executable_at    timestamptz,
    expires_at       timestamptz,
    executing_since  timestamptz,
    executed_at      timestamptz,
    last_error       text,
    reminded_at      timestamptz,
    canceled_by      uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX proposals_created_idx ON governance.proposals (created_at, id);
CREATE INDEX proposals_due_idx ON governance.proposals (status)
    WHERE status IN ('pending', 'active', 'queued', 'executing', 'execution_failed');
-- at most one live proposal per proposer (a club for the network, a user in a club)
CREATE UNIQUE INDEX proposals_one_live ON governance.proposals (scope, proposer_key)
    WHERE status IN ('draft', 'pending', 'active');
ALTER TABLE governance.proposals ENABLE ROW LEVEL SECURITY;
ALTER TABLE governance.proposals FORCE ROW LEVEL SECURITY;
CREATE POLICY proposals_visible ON governance.proposals
    USING (core.is_network_admin() OR club_id = core.current_club()
           OR (scope = 'network' AND core.current_club() IS NOT NULL))
    WITH CHECK (core.is_network_admin() OR club_id = core.current_club()
                OR (scope = 'network' AND core.current_club() IS NOT NULL));
GRANT SELECT, INSERT, UPDATE ON governance.proposals TO reciprocal_app;

-- Every transition (club NULL = the scheduler). Append-only.
CREATE TABLE governance.transitions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    proposal_id  uuid NOT NULL REFERENCES governance.proposals (id),
    club_id      uuid,
    actor_user_id uuid,
    from_status  text,
    to_status    text NOT NULL,
    reason       text,
    at           timestamptz NOT NULL
);
CREATE INDEX transitions_idx ON governance.transitions (proposal_id, id);
ALTER TABLE governance.transitions ENABLE ROW LEVEL SECURITY;
ALTER TABLE governance.transitions FORCE ROW LEVEL SECURITY;
CREATE POLICY transitions_visible ON governance.transitions
    USING (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id))
    WITH CHECK (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id));
GRANT SELECT, INSERT ON governance.transitions TO reciprocal_app;

-- The eligible voters snapshotted when voting opens: voter (a club id for the network, a user
-- id in the club), weight, and the delegations in force at opening (one hop: the type's,
-- else the one for all types).
CREATE TABLE governance.eligible (
    proposal_id uuid NOT NULL REFERENCES governance.proposals (id),
    voter_id    uuid NOT NULL,
    weight      bigint NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000000000),
    delegate_all  uuid,                      -- the voter's delegation for all types
    delegate_type uuid,                      -- its delegation for this proposal's type
    PRIMARY KEY (proposal_id, voter_id)
);
ALTER TABLE governance.eligible ENABLE ROW LEVEL SECURITY;
ALTER TABLE governance.eligible FORCE ROW LEVEL SECURITY;
CREATE POLICY eligible_visible ON governance.eligible
    USING (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id))
    WITH CHECK (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id));
GRANT SELECT, INSERT ON governance.eligible TO reciprocal_app;

-- One vote per voter per proposal (the unique key). voter_club_id: the voting club (network) or
-- the club (club scope), for tenant isolation of reads.
CREATE TABLE governance.votes (
    proposal_id   uuid NOT NULL REFERENCES governance.proposals (id),
    voter_id      uuid NOT NULL,
    voter_club_id uuid NOT NULL,
    choice        text NOT NULL CHECK (char_length(choice) BETWEEN 1 AND 200),
    weight        bigint NOT NULL,
    reason        text CHECK (char_length(reason) <= 2000),
    cast_by       uuid,
    signature     text,                      -- a pre-signed vote (club-held keys)
    cast_at       timestamptz NOT NULL,
    changed       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (proposal_id, voter_id)
);
ALTER TABLE governance.votes ENABLE ROW LEVEL SECURITY;
ALTER TABLE governance.votes FORCE ROW LEVEL SECURITY;
CREATE POLICY votes_visible ON governance.votes
    USING (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id))
    WITH CHECK (core.is_network_admin() OR voter_club_id = core.current_club());
GRANT SELECT, INSERT, UPDATE ON governance.votes TO reciprocal_app;

-- Delegations: a voter's vote goes to delegate_id for every type ('*') or one type; one hop.
CREATE TABLE governance.delegations (
    scope        text NOT NULL CHECK (scope IN ('network', 'club')),
    club_id      uuid NOT NULL,              -- the delegator's club (tenant)
    delegator_id uuid NOT NULL,
    type         text NOT NULL DEFAULT '*',
    delegate_id  uuid NOT NULL CHECK (delegate_id <> delegator_id),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, delegator_id, type)
);
ALTER TABLE governance.delegations ENABLE ROW LEVEL SECURITY;
ALTER TABLE governance.delegations FORCE ROW LEVEL SECURITY;
CREATE POLICY delegations_visible ON governance.delegations
    USING (core.is_network_admin() OR club_id = core.current_club() OR scope = 'network')
    WITH CHECK (core.is_network_admin() OR club_id = core.current_club());
GRANT SELECT, INSERT, UPDATE, DELETE ON governance.delegations TO reciprocal_app;

-- Optional network vote weights (absent = 1).
CREATE TABLE governance.weights (
    club_id    uuid PRIMARY KEY,
    weight     bigint NOT NULL CHECK (weight BETWEEN 1 AND 1000000000),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE governance.weights ENABLE ROW LEVEL SECURITY;
ALTER TABLE governance.weights FORCE ROW LEVEL SECURITY;
CREATE POLICY weights_read ON governance.weights FOR SELECT USING (true);
CREATE POLICY weights_write ON governance.weights FOR INSERT WITH CHECK (core.is_network_admin());
CREATE POLICY weights_update ON governance.weights FOR UPDATE
    USING (core.is_network_admin()) WITH CHECK (core.is_network_admin());
GRANT SELECT, INSERT, UPDATE ON governance.weights TO reciprocal_app;

-- Each action of a proposal, executed once (status done keeps its result: a retry skips it).
CREATE TABLE governance.action_runs (
    proposal_id uuid NOT NULL REFERENCES governance.proposals (id),
    idx         integer NOT NULL,
    kind        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('done', 'failed')),
    result      jsonb,
    error       text,
    attempts    integer NOT NULL DEFAULT 1,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposal_id, idx)
);
ALTER TABLE governance.action_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE governance.action_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY action_runs_visible ON governance.action_runs
    USING (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id))
    WITH CHECK (core.is_network_admin());
GRANT SELECT, INSERT, UPDATE ON governance.action_runs TO reciprocal_app;

-- The network's terms set by proposals (set_network_term): readable by every club.
CREATE TABLE governance.network_terms (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]{0,63}$'),
    value       jsonb NOT NULL,
    proposal_id uuid REFERENCES governance.proposals (id),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE governance.network_terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE governance.network_terms FORCE ROW LEVEL SECURITY;
CREATE POLICY network_terms_read ON governance.network_terms FOR SELECT USING (true);
CREATE POLICY network_terms_write ON governance.network_terms FOR INSERT
    WITH CHECK (core.is_network_admin());
CREATE POLICY network_terms_update ON governance.network_terms FOR UPDATE
    USING (core.is_network_admin()) WITH CHECK (core.is_network_admin());
GRANT SELECT, INSERT, UPDATE ON governance.network_terms TO reciprocal_app;

-- The ledger records of network proposals (docs/governance.md "Ledger records"): queued in the
-- transaction that decides them, submitted through the ledger service's operations by the
-- scheduler, retried while pending.
CREATE TABLE governance.ledger_records (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    proposal_id uuid NOT NULL REFERENCES governance.proposals (id),
    kind        text NOT NULL CHECK (kind IN ('governance.proposal',
                    'governance.eligible_snapshot', 'governance.vote_cast', 'governance.result')),
    voter_id    uuid,
    seq         integer NOT NULL DEFAULT 0,   -- a changed vote: its next record
    payload     jsonb NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'submitted')),
    tx_id       text,
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (proposal_id, kind, voter_id, seq)
);
CREATE INDEX ledger_records_pending_idx ON governance.ledger_records (created_at)
    WHERE status = 'pending';
ALTER TABLE governance.ledger_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE governance.ledger_records FORCE ROW LEVEL SECURITY;
CREATE POLICY ledger_records_visible ON governance.ledger_records
    USING (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id))
    WITH CHECK (EXISTS (SELECT 1 FROM governance.proposals p WHERE p.id = proposal_id));
GRANT SELECT, INSERT, UPDATE ON governance.ledger_records TO reciprocal_app;

-- The effective ballots of a proposal: every eligible voter's own vote, else (one hop) the vote
-- of the delegate snapshotted at opening; a direct vote overrides the delegate.
CREATE FUNCTION governance.ballots(pid uuid) RETURNS TABLE (voter_id uuid, choice text,
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

-- The live tally: weight per choice and the turnout (voters covered, their weight).
CREATE FUNCTION governance.tally_doc(pid uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$ SELECT jsonb_build_object(
                 'choices', coalesce((SELECT jsonb_object_agg(choice, w) FROM (SELECT choice,
                     sum(weight) AS w FROM governance.ballots(pid) GROUP BY choice) c), '{}'),
                 'voters', (SELECT count(*) FROM governance.ballots(pid)),
                 'turnout_weight', (SELECT coalesce(sum(weight), 0) FROM governance.ballots(pid)),
                 'direct_votes', (SELECT count(*) FROM governance.votes v
                                  WHERE v.proposal_id = pid)) $$;

CREATE FUNCTION governance.proposal_doc(p governance.proposals) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$ SELECT jsonb_build_object(
                 'id', p.id, 'scope', p.scope, 'club_id', p.club_id,
                 'proposer_user_id', p.proposer_user_id, 'type', p.type, 'title', p.title,
                 'body', p.body, 'options', p.options, 'actions', p.actions,
                 'actions_hash', p.actions_hash, 'rule', p.rule, 'status', p.status,
                 'sponsor_club_id', p.sponsor_club_id,
                 'sponsored_at', governance.ts(p.sponsored_at),
                 'voting_starts_at', governance.ts(p.voting_starts_at),
                 'voting_ends_at', governance.ts(p.voting_ends_at), 'extended', p.extended,
                 'quorum_reached_at', governance.ts(p.quorum_reached_at),
                 'eligible_count', p.eligible_count, 'eligible_weight', p.eligible_weight,
                 'tally', CASE WHEN p.status IN ('draft', 'pending') THEN NULL
                          ELSE governance.tally_doc(p.id) END,
                 'result', p.result,
                 'executable_at', governance.ts(p.executable_at),
                 'expires_at', governance.ts(p.expires_at),
                 'executed_at', governance.ts(p.executed_at), 'last_error', p.last_error,
                 'created_at', governance.ts(p.created_at),
                 'updated_at', governance.ts(p.updated_at)) $$;

SELECT core.create_outbox('governance');
