DROP FUNCTION notification.next_hour(timestamptz, text);
ALTER TABLE notification.messages DROP COLUMN digest_window;
UPDATE notification.preferences SET email = coalesce(email, true),
    in_app = coalesce(in_app, true), push = coalesce(push, false);
ALTER TABLE notification.preferences
    ALTER COLUMN email SET DEFAULT true, ALTER COLUMN email SET NOT NULL,
    ALTER COLUMN in_app SET DEFAULT true, ALTER COLUMN in_app SET NOT NULL,
    ALTER COLUMN push SET DEFAULT false, ALTER COLUMN push SET NOT NULL;
DROP TABLE notification.club_defaults;
DROP TABLE notification.idempotency_keys;
