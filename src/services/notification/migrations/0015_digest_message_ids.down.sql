DROP INDEX notification.messages_digest_of_idx;
ALTER TABLE notification.messages DROP COLUMN digest_of;
