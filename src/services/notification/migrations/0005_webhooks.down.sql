DROP TABLE notification.webhook_deliveries;
DROP TABLE notification.webhooks;
