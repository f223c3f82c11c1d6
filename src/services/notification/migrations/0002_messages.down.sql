DROP TABLE notification.templates;
DROP TABLE notification.messages;
SELECT core.drop_dead_letter('notification');
