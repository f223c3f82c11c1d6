-- notification: preferences per channel and per category, and quiet hours in the user's time
-- zone (docs/notification.md "Preferences and quiet hours"). The user-global channel switches
-- (email, in_app, push) stay columns; categories holds the per-category overrides
-- {"visits": {"email": false}}. Mandatory categories (security) are refused by the operation
-- and ignored by the consumers. The consumers read a recipient's row in the relay scope.
ALTER TABLE notification.preferences
    ADD COLUMN in_app      boolean NOT NULL DEFAULT true,
    ADD COLUMN timezone    text CHECK (char_length(timezone) BETWEEN 1 AND 64),
    ADD COLUMN quiet_start time,
    ADD COLUMN quiet_end   time,
    ADD COLUMN categories  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(categories) = 'object'),
    ADD CONSTRAINT preferences_quiet_hours CHECK ((quiet_start IS NULL AND quiet_end IS NULL)
        OR (quiet_start IS NOT NULL AND quiet_end IS NOT NULL AND quiet_start <> quiet_end));
CREATE POLICY preferences_system ON notification.preferences FOR SELECT USING (core.is_relay());

-- The end of the quiet window [qs, qe) (local wall times in time zone tz, wrapping midnight
-- when qs > qe) that the instant at falls in, as an instant; NULL when at is outside the window
-- or there is no window. PostgreSQL's time zone rules place the local end across DST changes
-- (a wall time skipped by a spring-forward is read in the offset before the change).
CREATE FUNCTION notification.quiet_until(at timestamptz, tz text, qs time, qe time)
    RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN qs IS NULL OR qe IS NULL OR tz IS NULL THEN NULL
        WHEN qs < qe AND l::time >= qs AND l::time < qe THEN (l::date + qe) AT TIME ZONE tz
        WHEN qs > qe AND l::time >= qs THEN (l::date + 1 + qe) AT TIME ZONE tz
        WHEN qs > qe AND l::time < qe THEN (l::date + qe) AT TIME ZONE tz
    END
    FROM (SELECT at AT TIME ZONE tz AS l) x
$$;
GRANT EXECUTE ON FUNCTION notification.quiet_until(timestamptz, text, time, time)
    TO reciprocal_app;
