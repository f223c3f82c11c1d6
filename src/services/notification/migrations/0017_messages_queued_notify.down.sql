DROP TRIGGER messages_queued_notify ON notification.messages;
DROP FUNCTION notification.messages_queued_notify();
