SELECT core.drop_outbox('notification');
DROP TABLE notification.preferences;
DROP SCHEMA notification;
