SELECT core.drop_outbox('ledger');
DROP TABLE ledger.keys, ledger.cosignatures, ledger.witness_state, ledger.checkpoints,
    ledger.log_nodes, ledger.state, ledger.txs, ledger.blocks, ledger.config_history,
    ledger.revocations, ledger.identities, ledger.orgs, ledger.head;
DROP SCHEMA ledger;
