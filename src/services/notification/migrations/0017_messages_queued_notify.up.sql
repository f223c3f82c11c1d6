-- notification: the delivery worker is woken when a message is queued (docs/notification.md
-- "Event to mail latency and CPU per mail"). Every INSERT into notification.messages notifies
-- the channel notification_queued; PostgreSQL delivers a NOTIFY only when its transaction
-- commits, and once per transaction however many rows it inserted, so the worker (LISTEN on a
-- connection of its own) leases the new rows right after the consumer's commit instead of at its
-- next poll. The poll (RECIPROCAL_NOTIFY_POLL_MS) stays for rows that become due later
-- (retries, quiet hours, scheduled reminders) and while the LISTEN connection is down.
CREATE FUNCTION notification.messages_queued_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('notification_queued', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_queued_notify AFTER INSERT ON notification.messages
    FOR EACH STATEMENT EXECUTE FUNCTION notification.messages_queued_notify();
