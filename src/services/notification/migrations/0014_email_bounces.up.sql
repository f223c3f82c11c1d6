-- notification: e-mail delivery statuses from the provider (docs/notification.md "E-mail
-- delivery statuses and bounces", docs/security.md "E-mail status callbacks and suppressions").
-- The e-mail provider's signed status callbacks are recorded like the SMS and push ones
-- (notification.provider_callbacks, provider 'email', the mail's Message-ID as provider_ref),
-- which now also know the hard bounce ('bounced').
ALTER TABLE notification.provider_callbacks DROP CONSTRAINT provider_callbacks_status_check;
ALTER TABLE notification.provider_callbacks
    ADD CONSTRAINT provider_callbacks_status_check
        CHECK (status IN ('sent', 'delivered', 'delivery_attempted', 'undelivered', 'bounced'));

-- A club's e-mail suppression list: an address a hard bounce reported undeliverable. Later
-- non-critical mails of the club to it are not sent (reason 'suppressed'); critical ones still
-- go. Tenant data: the club's administrators list and remove their club's rows; the callback
-- operation (a public, signature-authenticated endpoint) and the delivery worker write and read
-- any club's rows in the relay scope.
CREATE TABLE notification.suppressions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    club_id    uuid NOT NULL,
    address    text NOT NULL CHECK (char_length(address) BETWEEN 3 AND 320
                                    AND address = lower(address)),
    reason     text NOT NULL DEFAULT 'hard_bounce' CHECK (reason IN ('hard_bounce')),
    detail     text CHECK (char_length(detail) <= 300),
    message_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (club_id, address)
);
ALTER TABLE notification.suppressions ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification.suppressions FORCE ROW LEVEL SECURITY;
CREATE POLICY suppressions_club ON notification.suppressions
    USING (club_id = core.current_club() OR core.is_relay())
    WITH CHECK (club_id = core.current_club() OR core.is_relay());
GRANT SELECT, INSERT, DELETE ON notification.suppressions TO reciprocal_app;
