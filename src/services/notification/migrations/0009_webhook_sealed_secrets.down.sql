-- Sealed rows cannot be opened in SQL (the KEK is not in the database): they are removed.
DELETE FROM notification.webhooks WHERE secret IS NULL;
ALTER TABLE notification.webhooks
    DROP CONSTRAINT webhooks_secret_one_form,
    ALTER COLUMN secret SET NOT NULL,
    DROP COLUMN previous_nonce,
    DROP COLUMN previous_enc,
    DROP COLUMN secret_nonce,
    DROP COLUMN secret_enc;
