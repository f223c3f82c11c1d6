-- notification: webhook secrets sealed under the key-encryption key RECIPROCAL_WEBHOOK_KEK
-- (docs/notification.md "Sealed webhook secrets"): XChaCha20-Poly1305 of the 32 key bytes with
-- a random 24-byte nonce and the endpoint id as associated data (a sealed secret cannot be
-- moved to another endpoint), as the member service seals card keys. The clear columns stay for
-- the rows created before: the service seals them at start (when the KEK is set) and clears
-- them; every row holds each secret in one form only.
ALTER TABLE notification.webhooks
    ADD COLUMN secret_enc     bytea CHECK (octet_length(secret_enc) = 48),
    ADD COLUMN secret_nonce   bytea CHECK (octet_length(secret_nonce) = 24),
    ADD COLUMN previous_enc   bytea CHECK (octet_length(previous_enc) = 48),
    ADD COLUMN previous_nonce bytea CHECK (octet_length(previous_nonce) = 24),
    ALTER COLUMN secret DROP NOT NULL,
    ADD CONSTRAINT webhooks_secret_one_form CHECK ((secret IS NULL) <> (secret_enc IS NULL)
        AND (secret_enc IS NULL) = (secret_nonce IS NULL)
        AND (previous_enc IS NULL) = (previous_nonce IS NULL)
        AND (previous_secret IS NULL OR previous_enc IS NULL));
