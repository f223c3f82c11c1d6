DROP TABLE notification.devices;
ALTER TABLE notification.preferences DROP COLUMN sms;
DROP INDEX notification.messages_rate_idx;
DROP INDEX notification.messages_provider_ref_idx;
DELETE FROM notification.messages WHERE channel IN ('sms', 'push');
ALTER TABLE notification.messages
    DROP COLUMN status_changed_at,
    DROP COLUMN delivered_at,
    DROP COLUMN provider_ref,
    DROP COLUMN provider,
    DROP CONSTRAINT messages_channel_check;
ALTER TABLE notification.messages
    ADD CONSTRAINT messages_channel_check CHECK (channel IN ('email', 'in_app'));
