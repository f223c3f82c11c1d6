SELECT core.drop_outbox('gateway');
DROP TABLE gateway.graphql_documents;
DROP SCHEMA gateway;
