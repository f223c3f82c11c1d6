ALTER TABLE notification.preferences DROP COLUMN locale;
