DROP FUNCTION notification.quiet_until(timestamptz, text, time, time);
DROP POLICY preferences_system ON notification.preferences;
ALTER TABLE notification.preferences
    DROP CONSTRAINT preferences_quiet_hours,
    DROP COLUMN categories,
    DROP COLUMN quiet_end,
    DROP COLUMN quiet_start,
    DROP COLUMN timezone,
    DROP COLUMN in_app;
