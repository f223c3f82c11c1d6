-- notification: outbound webhooks per club (Standard Webhooks) and their delivery log
-- (docs/notification.md "Webhooks"). Tenant data: a club's administrators manage and read only
-- their club's rows (RLS); the consumers and the delivery worker run in the relay scope.
-- secret / previous_secret: "whsec_" + base64 of 32 random bytes, needed in clear to sign
-- (HMAC); never answered after creation or rotation. previous_secret still signs (a second
-- signature) until previous_expires_at, so receivers rotate without downtime.
CREATE TABLE notification.webhooks (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    club_id             uuid NOT NULL,
    url                 text NOT NULL CHECK (char_length(url) BETWEEN 8 AND 2048),
    event_types         text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 32),
    secret              text NOT NULL,
    previous_secret     text,
    previous_expires_at timestamptz,
    active              boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_club_idx ON notification.webhooks (club_id) WHERE active;
ALTER TABLE notification.webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification.webhooks FORCE ROW LEVEL SECURITY;
CREATE POLICY webhooks_club ON notification.webhooks
    USING (club_id = core.current_club() OR core.is_relay())
    WITH CHECK (club_id = core.current_club() OR core.is_relay());
GRANT SELECT, INSERT, UPDATE, DELETE ON notification.webhooks TO reciprocal_app;

-- One delivery per webhook and event; its id is the webhook-id header ("msg_" + id), the same
-- on every try. Statuses: queued, sent (2xx), undelivered (permanent failure, or the last try).
CREATE TABLE notification.webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    club_id          uuid NOT NULL,
    webhook_id       uuid NOT NULL REFERENCES notification.webhooks (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    payload          text NOT NULL,
    status           text NOT NULL DEFAULT 'queued'
                         CHECK (status IN ('queued', 'sent', 'undelivered')),
    tries            integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    failed_at        timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON notification.webhook_deliveries (next_attempt_at)
    WHERE status = 'queued';
CREATE INDEX webhook_deliveries_log_idx
    ON notification.webhook_deliveries (webhook_id, created_at DESC);
ALTER TABLE notification.webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification.webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_deliveries_club ON notification.webhook_deliveries
    USING (club_id = core.current_club() OR core.is_relay())
    WITH CHECK (core.is_relay());
GRANT SELECT, INSERT, UPDATE ON notification.webhook_deliveries TO reciprocal_app;

-- Digests (docs/notification.md "Digests"): a non-critical email of a category the user asked
-- to receive as a daily digest waits (digest = true) until the next 08:00 in the user's zone,
-- when the worker sends every waiting one of that recipient as one mail.
ALTER TABLE notification.messages ADD COLUMN digest boolean NOT NULL DEFAULT false;
CREATE INDEX messages_digest_idx ON notification.messages (next_attempt_at)
    WHERE status = 'queued' AND digest;

-- The next local wall time `at_time` in zone tz strictly after the instant `at`.
CREATE FUNCTION notification.next_local(at timestamptz, tz text, at_time time)
    RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN (at AT TIME ZONE tz)::time < at_time
                THEN ((at AT TIME ZONE tz)::date + at_time) AT TIME ZONE tz
                ELSE ((at AT TIME ZONE tz)::date + 1 + at_time) AT TIME ZONE tz END
$$;
GRANT EXECUTE ON FUNCTION notification.next_local(timestamptz, text, time) TO reciprocal_app;
