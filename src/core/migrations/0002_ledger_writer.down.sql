-- Undoes 0002_ledger_writer.up.sql (undo the ledger's 0002 first: its policies use it).
DROP FUNCTION core.is_ledger_writer();
