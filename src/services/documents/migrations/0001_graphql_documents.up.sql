-- gateway: the gateway's own data. Persisted GraphQL documents (registered by network
-- administrators, executed by anyone as {"documentId": "sha256:<hex>"}); network-wide, not
-- tenant data, so there is no club_id.
CREATE SCHEMA gateway;
GRANT USAGE ON SCHEMA gateway TO reciprocal_app;

CREATE TABLE gateway.graphql_documents (
    id         text PRIMARY KEY CHECK (id ~ '^sha256:[0-9a-f]{64}$'),
    document   text NOT NULL CHECK (octet_length(document) BETWEEN 1 AND 102400),
    name       text CHECK (char_length(name) <= 200),
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE gateway.graphql_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE gateway.graphql_documents FORCE ROW LEVEL SECURITY;
CREATE POLICY graphql_documents_read ON gateway.graphql_documents FOR SELECT USING (true);
CREATE POLICY graphql_documents_create ON gateway.graphql_documents FOR INSERT
    WITH CHECK (core.is_network_admin());
GRANT SELECT, INSERT ON gateway.graphql_documents TO reciprocal_app;

SELECT core.create_outbox('gateway');
