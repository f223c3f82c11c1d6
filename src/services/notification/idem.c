/* idem: see idem.h. */
#include "services/notification/idem.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

int notify_idem_validate(json_t *in, err_t *e) {
    const char *k;
    return jsonx_string(in, "idempotency_key", 0, 1, NOTIFY_IDEM_MAX, &k, e);
}

static const char *key_of(json_t *in) {
    return json_string_value(json_object_get(in, "idempotency_key"));
}

/* The request as compared: in without idempotency_key and club_id (the scope), compact, sorted
 * keys; malloc'd, NULL on out of memory. */
static char *canonical(json_t *in) {
    json_t *c = json_deep_copy(in);
    if (!c) return NULL;
    json_object_del(c, "idempotency_key");
    json_object_del(c, "club_id");
    char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(c);
    return s;
}

/* The first top-level field (sorted) whose value differs between the two requests. */
static void first_difference(const char *was, const char *now, char *field, size_t cap) {
    json_t *a = json_loads(was, 0, NULL), *b = json_loads(now, 0, NULL);
    const char *k;
    json_t *v;
    snprintf(field, cap, "%s", "idempotency_key");
    char best[128] = "";
    json_t *both[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        json_t *other = both[1 - i];
        json_object_foreach(both[i], k, v) {
            if (json_equal(v, json_object_get(other, k))) continue;
            if (!best[0] || strcmp(k, best) < 0) snprintf(best, sizeof best, "%s", k);
        }
    }
    if (best[0]) snprintf(field, cap, "%s", best);
    json_decref(a);
    json_decref(b);
}

int notify_idem_begin(db_tx_t *tx, const char *op, json_t *in, const char *at, json_t **replay,
                      err_t *e) {
    const char *key = key_of(in);
    *replay = NULL;
    if (!key) return 0;
    char *req = canonical(in);
    if (!req) return err_set(e, 500, "internal", "", "out of memory");
    const char *p[] = {op, key, at, req};
    int rc = -1;
    PGresult *r = NULL;
    /* one request per key at a time: the second waits for the first's commit */
    if (db_exec_cmd(tx,
                    "SELECT pg_advisory_xact_lock(hashtextextended(core.current_club()::text || "
                    "'/' || $1 || '/' || $2, 7))",
                    2, p, e) < 0)
        goto done;
    if (db_exec_cmd(tx,
                    "DELETE FROM notification.idempotency_keys WHERE club_id = core.current_club() "
                    "AND op = $1 AND key = $2 AND created_at <= coalesce($3::timestamptz, now()) - "
                    "interval '24 hours'",
                    3, p, e) < 0)
        goto done;
    r = db_exec(tx,
                "SELECT request, response::text FROM notification.idempotency_keys WHERE club_id "
                "= core.current_club() AND op = $1 AND key = $2",
                2, p, e);
    if (!r) goto done;
    if (PQntuples(r) == 0) {
        rc = 0;
        goto done;
    }
    if (strcmp(PQgetvalue(r, 0, 0), req) != 0) {
        char field[128];
        first_difference(PQgetvalue(r, 0, 0), req, field, sizeof field);
        err_set(e, 409, "idempotency_conflict", "idempotency_key",
                "idempotency_key was used within 24 hours with a different request (%s differs)",
                field);
        goto done;
    }
    *replay = db_json(r, 0, 1, e);
    rc = *replay ? 0 : -1;
done:
    PQclear(r);
    free(req);
    return rc;
}

int notify_idem_finish(db_tx_t *tx, const char *op, json_t *in, json_t *out, const char *at,
                       err_t *e) {
    const char *key = key_of(in);
    if (!key) return 0;
    char *req = canonical(in), *resp = json_dumps(out, JSON_COMPACT);
    int rc = -1;
    if (!req || !resp) {
        err_set(e, 500, "internal", "", "out of memory");
        goto done;
    }
    const char *p[] = {op, key, req, resp, at};
    rc = db_exec_cmd(tx,
                     "INSERT INTO notification.idempotency_keys (club_id, op, key, request, "
                     "response, created_at) VALUES (core.current_club(), $1, $2, $3, $4::jsonb, "
                     "coalesce($5::timestamptz, now()))",
                     5, p, e) < 0
             ? -1
             : 0;
done:
    free(req);
    free(resp);
    return rc;
}
