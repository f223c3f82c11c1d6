-- notification: the messages the service sends (one row per event, rule, channel and
-- recipient), the club template overrides, and the consumers' dead-letter table.
-- messages: tenant data (club_id = the recipient's club). A member reads and marks only its own
-- in-app messages (policy on club and user); the consumers and the delivery worker run in the
-- relay scope (core.is_relay(): system processes) and write any club's rows; network
-- administrators read the failed list. Bodies of token mails are never stored: the row keeps
-- the template and its variables (a token id, never a token) and the worker renders at send.
SELECT core.create_dead_letter('notification');

CREATE TABLE notification.messages (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    club_id         uuid NOT NULL,
    user_id         uuid,                      -- the recipient's account (in-app), or NULL
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    template        text NOT NULL,
    locale          text NOT NULL DEFAULT 'en',
    channel         text NOT NULL CHECK (channel IN ('email', 'in_app')),
    recipient       text NOT NULL CHECK (char_length(recipient) <= 320),  -- address or user id
    critical        boolean NOT NULL DEFAULT false,
    vars            jsonb NOT NULL DEFAULT '{}',
    subject         text,                      -- in-app: rendered at once; email: at send
    body_text       text,
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent',
                        'delivered', 'delivery_attempted', 'undelivered', 'bounced', 'not_sent',
                        'seen', 'read')),
    tries           integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    failed_at       timestamptz,
    seen_at         timestamptz,
    read_at         timestamptz,
    UNIQUE (event_id, template, channel, recipient)
);
CREATE INDEX messages_due_idx ON notification.messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX messages_inbox_idx ON notification.messages (club_id, user_id, created_at DESC, id)
    WHERE channel = 'in_app';
CREATE INDEX messages_failed_idx ON notification.messages (failed_at DESC)
    WHERE status IN ('undelivered', 'not_sent');
ALTER TABLE notification.messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification.messages FORCE ROW LEVEL SECURITY;
CREATE POLICY messages_system ON notification.messages
    USING (core.is_relay()) WITH CHECK (core.is_relay());
CREATE POLICY messages_own ON notification.messages
    USING (club_id = core.current_club() AND channel = 'in_app'
           AND user_id::text = NULLIF(pg_catalog.current_setting('app.user_id', true), ''))
    WITH CHECK (club_id = core.current_club() AND channel = 'in_app'
           AND user_id::text = NULLIF(pg_catalog.current_setting('app.user_id', true), ''));
CREATE POLICY messages_admin_read ON notification.messages FOR SELECT
    USING (core.is_network_admin());
GRANT SELECT, INSERT, UPDATE ON notification.messages TO reciprocal_app;

-- A club's override of a network default template (key, locale); the defaults are in the code
-- (src/services/notification/rules.c). Club admins write their club's rows.
CREATE TABLE notification.templates (
    club_id    uuid NOT NULL,
    key        text NOT NULL CHECK (key ~ '^[a-z_]{1,64}$'),
    locale     text NOT NULL CHECK (locale ~ '^[a-z]{2}(-[A-Z]{2})?$'),
    subject    text NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 300),
    body       text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 20000),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (club_id, key, locale)
);
ALTER TABLE notification.templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification.templates FORCE ROW LEVEL SECURITY;
CREATE POLICY templates_club ON notification.templates
    USING (club_id = core.current_club() OR core.is_relay())
    WITH CHECK (club_id = core.current_club());
GRANT SELECT, INSERT, UPDATE, DELETE ON notification.templates TO reciprocal_app;
