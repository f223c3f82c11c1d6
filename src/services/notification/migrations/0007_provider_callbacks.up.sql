-- notification: the SMS and push providers' status callbacks received (docs/notification.md
-- "SMS and push", docs/security.md "Provider status callbacks"). One row per provider, message
-- and reported status: a callback received again (the provider retries, an attacker replays a
-- captured one) finds its row and changes nothing. Written and read by the callback operation
-- in the relay scope only (a public, signature-authenticated endpoint with no caller club).
CREATE TABLE notification.provider_callbacks (
    provider     text NOT NULL CHECK (char_length(provider) <= 32),
    provider_ref text NOT NULL CHECK (char_length(provider_ref) BETWEEN 1 AND 255),
    status       text NOT NULL CHECK (status IN ('sent', 'delivered', 'delivery_attempted',
                                                  'undelivered')),
    message_id   uuid NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, provider_ref, status)
);
ALTER TABLE notification.provider_callbacks ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification.provider_callbacks FORCE ROW LEVEL SECURITY;
CREATE POLICY provider_callbacks_system ON notification.provider_callbacks
    USING (core.is_relay()) WITH CHECK (core.is_relay());
GRANT SELECT, INSERT ON notification.provider_callbacks TO reciprocal_app;
