/* graphql_documents: see graphql_documents.h. */
#include "services/documents/graphql_documents.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "lib/graphql/gql_parser.h"

int gqldocs_validate_register(json_t *in, err_t *e) {
    static const char *const keys[] = {"document", "name", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_string(in, "name", 0, 1, 200, &s, e) != 0) return -1;
    json_t *d = json_object_get(in, "document");
    if (!d || json_is_null(d)) return err_missing(e, "document");
    if (!json_is_string(d)) return err_type(e, "document", "document must be a string");
    if (json_string_length(d) < 1 || json_string_length(d) > 102400)
        return err_invalid(e, "document",
                           "document must be a GraphQL document of 1 to 102400 bytes");
    err_t pe = {0};
    gql_document *doc = gql_parse(json_string_value(d), json_string_length(d), NULL, NULL, &pe);
    if (!doc) return err_invalid(e, "document", "%s", pe.message);
    gql_document_free(doc);
    return 0;
}

int gqldocs_register(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    json_t *d = json_object_get(in, "document");
    unsigned char md[32];
    unsigned int n = 0;
    char id[72] = "sha256:";
    EVP_Digest(json_string_value(d), json_string_length(d), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(id + 7 + 2 * i, 3, "%02x", md[i]);
    const char *p[] = {id, json_string_value(d), json_string_value(json_object_get(in, "name")),
                       call->caller->user_id[0] ? call->caller->user_id : NULL};
    int rc = -1;
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    if (svc_begin(call, &tx, e) != 0) return -1;
    r = db_exec(tx,
                "WITH ins AS (INSERT INTO gateway.graphql_documents (id, document, name, "
                "created_by) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING RETURNING id, "
                "name, created_at) SELECT id, name, to_char(created_at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM ins UNION ALL SELECT id, name, "
                "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM "
                "gateway.graphql_documents WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ins)",
                4, p, e);
    if (!r || PQntuples(r) != 1) {
        if (r) err_set(e, 500, "internal", "", "document was not stored");
        goto done;
    }
    *out = json_pack("{s:s, s:o, s:s}", "id", PQgetvalue(r, 0, 0), "name",
                     PQgetisnull(r, 0, 1) ? json_null() : json_string(PQgetvalue(r, 0, 1)),
                     "created_at", PQgetvalue(r, 0, 2));
    rc = 0;
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, out, e);
}

int gqldocs_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {NULL};
    return jsonx_only_keys(in, keys, "", e);
}

int gqldocs_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    (void)in;
    db_tx_t *tx = NULL;
    if (svc_begin(call, &tx, e) != 0) return -1;
    PGresult *r = db_exec(tx,
                          "SELECT id, name, to_char(created_at AT TIME ZONE 'UTC', "
                          "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM gateway.graphql_documents "
                          "ORDER BY created_at DESC, id LIMIT 1000",
                          0, NULL, e);
    if (!r) {
        db_rollback(tx);
        return -1;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(
            items, json_pack("{s:s, s:o, s:s}", "id", PQgetvalue(r, i, 0), "name",
                             PQgetisnull(r, i, 1) ? json_null() : json_string(PQgetvalue(r, i, 1)),
                             "created_at", PQgetvalue(r, i, 2)));
    PQclear(r);
    *out = json_pack("{s:o}", "items", items);
    return db_commit(tx, e);
}

int gqldocs_validate_get(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    return jsonx_string(in, "id", 1, 71, 71, &s, e);
}

int gqldocs_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *p[] = {json_string_value(json_object_get(in, "id"))};
    db_tx_t *tx = NULL;
    if (svc_begin(call, &tx, e) != 0) return -1;
    PGresult *r =
        db_exec(tx, "SELECT document FROM gateway.graphql_documents WHERE id = $1", 1, p, e);
    if (!r) {
        db_rollback(tx);
        return -1;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        db_rollback(tx);
        return err_set(e, 404, "not_found", "id", "no persisted document with this id");
    }
    *out = json_pack("{s:s, s:s}", "id", p[0], "document", PQgetvalue(r, 0, 0));
    PQclear(r);
    return db_commit(tx, e);
}
