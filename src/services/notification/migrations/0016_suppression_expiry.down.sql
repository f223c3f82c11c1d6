DELETE FROM notification.provider_callbacks WHERE status = 'complaint';
ALTER TABLE notification.provider_callbacks DROP CONSTRAINT provider_callbacks_status_check;
ALTER TABLE notification.provider_callbacks
    ADD CONSTRAINT provider_callbacks_status_check
        CHECK (status IN ('sent', 'delivered', 'delivery_attempted', 'undelivered', 'bounced'));
REVOKE UPDATE ON notification.suppressions FROM reciprocal_app;
DELETE FROM notification.suppressions WHERE reason <> 'hard_bounce';
ALTER TABLE notification.suppressions DROP CONSTRAINT suppressions_hard_bounce_permanent;
ALTER TABLE notification.suppressions DROP CONSTRAINT suppressions_reason_check;
ALTER TABLE notification.suppressions
    ADD CONSTRAINT suppressions_reason_check CHECK (reason IN ('hard_bounce'));
ALTER TABLE notification.suppressions DROP COLUMN expires_at;
