DROP FUNCTION notification.next_local(timestamptz, text, time);
DROP INDEX notification.messages_digest_idx;
ALTER TABLE notification.messages DROP COLUMN digest;
DROP TABLE notification.webhook_deliveries;
DROP TABLE notification.webhooks;
