DROP TABLE notification.provider_callbacks;
