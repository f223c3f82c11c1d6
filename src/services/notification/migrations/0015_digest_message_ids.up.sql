-- notification: digest mails are answerable by the e-mail status callback (docs/notification.md
-- "Digests through the mail path"). A digest is one mail for many rows: it carries the stable
-- Message-ID of its first row (the oldest), kept as that row's provider_ref like a single mail's,
-- and every row the mail listed points at that first row (digest_of), so a status callback naming
-- the digest's Message-ID moves all of them.
ALTER TABLE notification.messages ADD COLUMN digest_of uuid;
CREATE INDEX messages_digest_of_idx ON notification.messages (digest_of)
    WHERE digest_of IS NOT NULL;
