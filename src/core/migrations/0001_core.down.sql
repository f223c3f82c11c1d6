-- Undoes 0001_core.up.sql. Fails (by design) while a service schema still uses core: undo the
-- services' migrations first (migrate down undoes in reverse order of application).
DROP FUNCTION core.drop_outbox(text);
DROP FUNCTION core.create_outbox(text);
DROP FUNCTION core.outbox_notify();
DROP FUNCTION core.is_relay();
DROP FUNCTION core.is_network_admin();
DROP FUNCTION core.current_club();
DROP SCHEMA core;
