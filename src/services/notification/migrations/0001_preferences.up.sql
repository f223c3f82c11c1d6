-- notification: the members' notification preferences, one row per user and club (tenant data:
-- club_id, RLS on the caller's club and user). Absent row = the defaults (email on, push off).
CREATE SCHEMA notification;
GRANT USAGE ON SCHEMA notification TO reciprocal_app;

CREATE TABLE notification.preferences (
    club_id    uuid NOT NULL,
    user_id    text NOT NULL,
    email      boolean NOT NULL DEFAULT true,
    push       boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (club_id, user_id)
);
ALTER TABLE notification.preferences ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification.preferences FORCE ROW LEVEL SECURITY;
CREATE POLICY preferences_own ON notification.preferences
    USING (club_id = core.current_club()
           AND user_id = NULLIF(pg_catalog.current_setting('app.user_id', true), ''))
    WITH CHECK (club_id = core.current_club()
                AND user_id = NULLIF(pg_catalog.current_setting('app.user_id', true), ''));
GRANT SELECT, INSERT, UPDATE ON notification.preferences TO reciprocal_app;

SELECT core.create_outbox('notification');
