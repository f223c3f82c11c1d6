-- notification: suppressions that expire (docs/notification.md "Suppression expiry and
-- GraphQL"). A hard bounce suppresses an address for good (expires_at NULL); a spam complaint
-- and repeated soft bounces (the third within RECIPROCAL_NOTIFY_SUPPRESSION_DAYS) suppress it
-- until expires_at (now + that many days; NULL when set to 0). An expired entry no longer
-- suppresses; a new report refreshes it. The e-mail callback also knows 'complaint'.
ALTER TABLE notification.suppressions ADD COLUMN expires_at timestamptz;
ALTER TABLE notification.suppressions DROP CONSTRAINT suppressions_reason_check;
ALTER TABLE notification.suppressions
    ADD CONSTRAINT suppressions_reason_check
        CHECK (reason IN ('hard_bounce', 'complaint', 'soft_bounce'));
ALTER TABLE notification.suppressions
    ADD CONSTRAINT suppressions_hard_bounce_permanent
        CHECK (reason <> 'hard_bounce' OR expires_at IS NULL);
GRANT UPDATE ON notification.suppressions TO reciprocal_app;

ALTER TABLE notification.provider_callbacks DROP CONSTRAINT provider_callbacks_status_check;
ALTER TABLE notification.provider_callbacks
    ADD CONSTRAINT provider_callbacks_status_check
        CHECK (status IN ('sent', 'delivered', 'delivery_attempted', 'undelivered', 'bounced',
                          'complaint'));
