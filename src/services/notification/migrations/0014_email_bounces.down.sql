DROP TABLE notification.suppressions;
DELETE FROM notification.provider_callbacks WHERE status = 'bounced';
ALTER TABLE notification.provider_callbacks DROP CONSTRAINT provider_callbacks_status_check;
ALTER TABLE notification.provider_callbacks
    ADD CONSTRAINT provider_callbacks_status_check
        CHECK (status IN ('sent', 'delivered', 'delivery_attempted', 'undelivered'));
