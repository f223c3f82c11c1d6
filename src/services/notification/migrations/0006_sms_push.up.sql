-- notification: SMS and push (docs/notification.md "SMS and push"). Messages on the channels
-- 'sms' (recipient: the member's E.164 phone) and 'push' (recipient: the id of a registered
-- device, its token read at send time), the provider's id of each sent message (provider_ref,
-- what the provider's status callbacks name), the time of the last status change, the users'
-- SMS switch (opt-in like push) and the users' push devices.
ALTER TABLE notification.messages DROP CONSTRAINT messages_channel_check;
ALTER TABLE notification.messages
    ADD CONSTRAINT messages_channel_check
        CHECK (channel IN ('email', 'in_app', 'sms', 'push')),
    ADD COLUMN provider          text CHECK (char_length(provider) <= 32),
    ADD COLUMN provider_ref      text CHECK (char_length(provider_ref) BETWEEN 1 AND 255),
    ADD COLUMN delivered_at      timestamptz,
    ADD COLUMN status_changed_at timestamptz;
CREATE UNIQUE INDEX messages_provider_ref_idx ON notification.messages (channel, provider_ref)
    WHERE provider_ref IS NOT NULL;
-- the rate limit counts a user's recent sends per channel
CREATE INDEX messages_rate_idx ON notification.messages (user_id, channel, sent_at)
    WHERE channel IN ('sms', 'push') AND sent_at IS NOT NULL;

ALTER TABLE notification.preferences ADD COLUMN sms boolean NOT NULL DEFAULT false;

-- A member's push device (tenant data: its club and user; the member registers, lists and
-- removes only its own, policy devices_own; the delivery worker reads any in the relay scope and
-- removes one the gateway reports unknown).
-- token: the push gateway's registration token (FCM), never answered back in full.
CREATE TABLE notification.devices (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    club_id      uuid NOT NULL,
    user_id      text NOT NULL,
    platform     text NOT NULL CHECK (platform IN ('android', 'ios', 'web')),
    token        text NOT NULL CHECK (char_length(token) BETWEEN 16 AND 4096),
    label        text CHECK (char_length(label) BETWEEN 1 AND 100),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (club_id, user_id, token)
);
CREATE INDEX devices_user_idx ON notification.devices (club_id, user_id);
ALTER TABLE notification.devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification.devices FORCE ROW LEVEL SECURITY;
CREATE POLICY devices_own ON notification.devices
    USING (club_id = core.current_club()
           AND user_id = NULLIF(pg_catalog.current_setting('app.user_id', true), ''))
    WITH CHECK (club_id = core.current_club()
                AND user_id = NULLIF(pg_catalog.current_setting('app.user_id', true), ''));
CREATE POLICY devices_system ON notification.devices FOR SELECT USING (core.is_relay());
-- the worker forgets a device its push gateway no longer knows (404/410: FCM UNREGISTERED)
CREATE POLICY devices_system_forget ON notification.devices FOR DELETE USING (core.is_relay());
GRANT SELECT, INSERT, UPDATE, DELETE ON notification.devices TO reciprocal_app;
