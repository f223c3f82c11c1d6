-- Ledger writes need the dedicated writer scope core.is_ledger_writer() (core 0002) instead of
-- the outbox relay's core.is_relay(). Same policies as 0001 otherwise.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['head', 'orgs', 'identities', 'revocations', 'config_history',
                             'blocks', 'txs', 'state', 'log_nodes', 'checkpoints',
                             'witness_state', 'cosignatures'] LOOP
        EXECUTE format('DROP POLICY %I ON ledger.%I', t || '_insert', t);
        EXECUTE format('DROP POLICY %I ON ledger.%I', t || '_update', t);
        EXECUTE format('DROP POLICY %I ON ledger.%I', t || '_delete', t);
        EXECUTE format('CREATE POLICY %I ON ledger.%I FOR INSERT '
                       'WITH CHECK (core.is_ledger_writer())', t || '_insert', t);
        EXECUTE format('CREATE POLICY %I ON ledger.%I FOR UPDATE USING (core.is_ledger_writer()) '
                       'WITH CHECK (core.is_ledger_writer())', t || '_update', t);
        EXECUTE format('CREATE POLICY %I ON ledger.%I FOR DELETE '
                       'USING (core.is_ledger_writer())', t || '_delete', t);
    END LOOP;
END
$$;
DROP POLICY keys_read ON ledger.keys;
DROP POLICY keys_insert ON ledger.keys;
CREATE POLICY keys_read ON ledger.keys FOR SELECT
    USING (core.is_ledger_writer() OR (club_id IS NOT NULL AND club_id = core.current_club()));
CREATE POLICY keys_insert ON ledger.keys FOR INSERT WITH CHECK (core.is_ledger_writer());
