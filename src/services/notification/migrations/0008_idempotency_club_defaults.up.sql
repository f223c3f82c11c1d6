-- notification: client idempotency keys, club-level preference defaults and hourly digests
-- (docs/notification.md "Client idempotency keys", "Club preference defaults", "Hourly digests").
-- idempotency_keys: one row per club, operation and client key (<= 255 chars) for 24 h: the
--   request as canonical JSON (compact, sorted keys; compared on reuse: a different payload is
--   409) and the answer to replay (secrets are never stored here: the operation re-reads them).
--   Tenant data, RLS on the caller's club.
CREATE TABLE notification.idempotency_keys (
    club_id    uuid NOT NULL,
    op         text NOT NULL CHECK (op ~ '^[a-z_]{1,64}$'),
    key        text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request    text NOT NULL,
    response   jsonb,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (club_id, op, key)
);
CREATE INDEX idempotency_keys_age_idx ON notification.idempotency_keys (created_at);
ALTER TABLE notification.idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification.idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_club ON notification.idempotency_keys
    USING (club_id = core.current_club()) WITH CHECK (club_id = core.current_club());
GRANT SELECT, INSERT, UPDATE, DELETE ON notification.idempotency_keys TO reciprocal_app;

-- club_defaults: a club's default channel switches (null = the network default) and per-category
-- defaults {"visits": {"email": false}}, below the user's own choices. Club administrators write
-- their club's row; the consumers read it in the relay scope.
CREATE TABLE notification.club_defaults (
    club_id    uuid PRIMARY KEY,
    email      boolean,
    in_app     boolean,
    push       boolean,
    categories jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(categories) = 'object'),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE notification.club_defaults ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification.club_defaults FORCE ROW LEVEL SECURITY;
CREATE POLICY club_defaults_club ON notification.club_defaults
    USING (club_id = core.current_club() OR core.is_relay())
    WITH CHECK (club_id = core.current_club());
GRANT SELECT, INSERT, UPDATE ON notification.club_defaults TO reciprocal_app;

-- The user's global switches become "unset" (NULL) unless the user chose them, so the club's
-- default applies below them. Existing rows keep their values (they were chosen or defaulted).
ALTER TABLE notification.preferences
    ALTER COLUMN email DROP NOT NULL, ALTER COLUMN email DROP DEFAULT,
    ALTER COLUMN in_app DROP NOT NULL, ALTER COLUMN in_app DROP DEFAULT,
    ALTER COLUMN push DROP NOT NULL, ALTER COLUMN push DROP DEFAULT;

-- Hourly digests: the window a held message waits for ('daily' 08:00 local, 'hourly' the next
-- full local hour).
ALTER TABLE notification.messages
    ADD COLUMN digest_window text NOT NULL DEFAULT 'daily'
        CHECK (digest_window IN ('daily', 'hourly'));

-- The next full hour of local time in zone tz strictly after the instant `at`, as an instant:
-- `at` plus the wall-clock minutes to the next local hour, so a zone with a :30 or :45 offset gets
-- its own hour and a DST change (on the hour) neither skips nor repeats a window.
CREATE FUNCTION notification.next_hour(at timestamptz, tz text)
    RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT at + (date_trunc('hour', l) + interval '1 hour' - l)
    FROM (SELECT at AT TIME ZONE tz AS l) x
$$;
GRANT EXECUTE ON FUNCTION notification.next_hour(timestamptz, text) TO reciprocal_app;
