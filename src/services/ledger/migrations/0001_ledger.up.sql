-- ledger service: the network's permissioned, verifiable ledger (docs/ledger.md).
-- Ledger data is network-wide, not tenant data: every participant may read it (SELECT policies
-- USING (true)), but only the ledger service writes it, in transactions opened with the
-- writer scope (db_scope_t.relay = 1, i.e. core.is_relay()). Private keys are the exception:
-- a club reads only its own sealed key, the ledger writer scope reads all of them.
CREATE SCHEMA ledger;
GRANT USAGE ON SCHEMA ledger TO reciprocal_app;

-- One row: the committed chain head. Committers lock it (FOR UPDATE) so blocks commit one at a
-- time and in order.
CREATE TABLE ledger.head (
    id          smallint PRIMARY KEY CHECK (id = 1),
    height      bigint NOT NULL DEFAULT -1,         -- last committed block number, -1 = none
    header_hash bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
    log_size    bigint NOT NULL DEFAULT 0,          -- leaves in the global log
    js_seq      bigint NOT NULL DEFAULT 0           -- LEDGER_BLOCKS sequence of the last block
);
INSERT INTO ledger.head (id) VALUES (1);

-- Organizations (clubs and the network operator "network") in force now.
CREATE TABLE ledger.orgs (
    org            text PRIMARY KEY CHECK (org ~ '^[A-Za-z0-9.-]{1,64}$'),
    club_id        uuid,
    name           text NOT NULL DEFAULT '' CHECK (char_length(name) <= 200),
    updated_height bigint NOT NULL
);
-- Identities (Ed25519 public keys) of the organizations and their role.
CREATE TABLE ledger.identities (
    public_key   bytea PRIMARY KEY CHECK (octet_length(public_key) = 32),
    org          text NOT NULL REFERENCES ledger.orgs (org) ON DELETE CASCADE,
    role         text NOT NULL CHECK (role IN ('member', 'admin')),
    added_height bigint NOT NULL
);
CREATE INDEX identities_org_idx ON ledger.identities (org);
-- Revoked keys: forever.
CREATE TABLE ledger.revocations (
    public_key bytea PRIMARY KEY CHECK (octet_length(public_key) = 32),
    height     bigint NOT NULL,
    reason     text NOT NULL DEFAULT ''
);
-- The whole network config after every block that changed it (canonical JSON).
CREATE TABLE ledger.config_history (
    height bigint PRIMARY KEY,
    config jsonb NOT NULL
);

-- Private keys, sealed with libsodium secretbox under the KEK (RECIPROCAL_LEDGER_KEK).
-- key_name: an org's identity ("<org>/<role>") or "log" (the checkpoint signing key).
CREATE TABLE ledger.keys (
    key_name   text PRIMARY KEY CHECK (char_length(key_name) BETWEEN 1 AND 140),
    club_id    uuid,
    public_key bytea NOT NULL CHECK (octet_length(public_key) = 32),
    nonce      bytea NOT NULL CHECK (octet_length(nonce) = 24),
    sealed     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Blocks: the header fields (header_hash = SHA-256 of their canonical encoding).
CREATE TABLE ledger.blocks (
    number          bigint PRIMARY KEY CHECK (number >= 0),
    prev_hash       bytea NOT NULL,
    data_root       bytea NOT NULL,
    validation_root bytea NOT NULL,
    writeset_hash   bytea NOT NULL,
    timestamp_ms    bigint NOT NULL,
    tx_count        integer NOT NULL,
    first_log_index bigint NOT NULL,
    header_hash     bytea NOT NULL UNIQUE,
    js_seq          bigint NOT NULL,
    committed_at    timestamptz NOT NULL DEFAULT now()
);

-- Transactions, valid or not, in block order. Fabric validation codes (0 VALID, 2 BAD_PAYLOAD,
-- 9 DUPLICATE_TXID, ...). A tx id is unique forever among all transactions except the copies
-- rejected as DUPLICATE_TXID and undecodable envelopes (whose tx_id is the envelope hash).
CREATE TABLE ledger.txs (
    block_number    bigint NOT NULL REFERENCES ledger.blocks (number),
    position        integer NOT NULL,
    log_index       bigint NOT NULL UNIQUE,
    tx_id           bytea NOT NULL CHECK (octet_length(tx_id) = 32),
    type            text NOT NULL,
    creator_org     text NOT NULL,
    validation_code smallint NOT NULL,
    envelope        bytea NOT NULL,
    leaf_hash       bytea NOT NULL,
    PRIMARY KEY (block_number, position)
);
CREATE UNIQUE INDEX txs_tx_id_once ON ledger.txs (tx_id) WHERE validation_code NOT IN (2, 9);
CREATE INDEX txs_tx_id_idx ON ledger.txs (tx_id);

-- World state: version = (block, tx position); the integer form is block * 2^24 + position + 1
-- (0 = absent).
CREATE TABLE ledger.state (
    key      bytea PRIMARY KEY,
    value    bytea NOT NULL,
    block    bigint NOT NULL,
    position integer NOT NULL,
    version  bigint NOT NULL
);

-- The global RFC 6962 log: node (level, idx) is the root of the complete subtree over leaves
-- [idx * 2^level, (idx + 1) * 2^level); level 0 holds the leaf hashes. Only complete subtrees
-- are stored, so any root or proof needs O(log n) rows.
CREATE TABLE ledger.log_nodes (
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx   bigint NOT NULL CHECK (idx >= 0),
    hash  bytea NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Checkpoints signed by the log after each block (C2SP signed note text).
CREATE TABLE ledger.checkpoints (
    size         bigint PRIMARY KEY,
    root         bytea NOT NULL,
    block_number bigint NOT NULL,
    note         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- Witnesses: each club's last cosigned checkpoint (never goes backwards) ...
CREATE TABLE ledger.witness_state (
    org        text PRIMARY KEY,
    size       bigint NOT NULL,
    root       bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- ... and every cosignature it made (the signature line of the signed note).
CREATE TABLE ledger.cosignatures (
    size       bigint NOT NULL,
    org        text NOT NULL,
    sig_line   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (size, org)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['head', 'orgs', 'identities', 'revocations', 'config_history',
                             'blocks', 'txs', 'state', 'log_nodes', 'checkpoints',
                             'witness_state', 'cosignatures'] LOOP
        EXECUTE format('ALTER TABLE ledger.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE ledger.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON ledger.%I FOR SELECT USING (true)', t || '_read', t);
        EXECUTE format('CREATE POLICY %I ON ledger.%I FOR INSERT WITH CHECK (core.is_relay())',
                       t || '_insert', t);
        EXECUTE format('CREATE POLICY %I ON ledger.%I FOR UPDATE USING (core.is_relay()) '
                       'WITH CHECK (core.is_relay())', t || '_update', t);
        EXECUTE format('CREATE POLICY %I ON ledger.%I FOR DELETE USING (core.is_relay())',
                       t || '_delete', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ledger.%I TO reciprocal_app', t);
    END LOOP;
END
$$;
-- Blocks, transactions, log nodes, checkpoints and cosignatures are append-only even for the
-- writer: no UPDATE or DELETE grant.
REVOKE UPDATE, DELETE ON ledger.blocks, ledger.txs, ledger.log_nodes, ledger.checkpoints,
    ledger.cosignatures FROM reciprocal_app;

ALTER TABLE ledger.keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger.keys FORCE ROW LEVEL SECURITY;
CREATE POLICY keys_read ON ledger.keys FOR SELECT
    USING (core.is_relay() OR (club_id IS NOT NULL AND club_id = core.current_club()));
CREATE POLICY keys_insert ON ledger.keys FOR INSERT WITH CHECK (core.is_relay());
GRANT SELECT, INSERT ON ledger.keys TO reciprocal_app;

SELECT core.create_outbox('ledger');
