-- notification: idempotency keys, scheduling, expiry and cancellation of messages
-- (docs/notification.md "Idempotency, scheduling and cancellation").
-- idempotency_key: what the message is about ("visit_confirmed:<visit id>"), unique per club,
--   channel and recipient: the same notification is queued once even when its event is
--   published again under another id (the inbox dedupes ids, this the meaning).
-- scheduled_for: when it was first due (a reminder the day before arrival); expires_at: a
--   queued message past it is not_sent ('expired'); cancellation_key: a later event cancels the
--   queued messages holding it ("visit:<id>": a cancelled visit cancels its reminder).
ALTER TABLE notification.messages
    ADD COLUMN idempotency_key  text CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    ADD COLUMN scheduled_for    timestamptz,
    ADD COLUMN expires_at       timestamptz,
    ADD COLUMN cancellation_key text CHECK (char_length(cancellation_key) BETWEEN 1 AND 255),
    ADD COLUMN cancelled_at     timestamptz;
CREATE UNIQUE INDEX messages_idempotency_idx
    ON notification.messages (club_id, idempotency_key, channel, recipient)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_cancellation_idx ON notification.messages (club_id, cancellation_key)
    WHERE status = 'queued' AND cancellation_key IS NOT NULL;
CREATE INDEX messages_expiry_idx ON notification.messages (expires_at)
    WHERE status = 'queued' AND expires_at IS NOT NULL;
