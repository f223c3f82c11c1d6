/* service: see service.h. */
#include "core/service.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/outbox.h"

const svc_module_t *svc_find_module(const char *name) {
    for (const svc_module_t *const *m = svc_registry; *m; m++)
        if (strcmp((*m)->name, name) == 0) return *m;
    return NULL;
}

const svc_op_t *svc_find_op(const svc_module_t *m, const char *op_name) {
    for (size_t i = 0; i < m->n_ops; i++)
        if (strcmp(m->ops[i].name, op_name) == 0) return &m->ops[i];
    return NULL;
}

static const char *const access_names[] = {"unset",        "public",        "signed_in", "perm",
                                           "perm_or_self", "network_admin", "internal"};

const char *svc_access_name(svc_access_t access) {
    size_t n = sizeof access_names / sizeof access_names[0];
    return (size_t)access < n ? access_names[access] : "unset";
}

/* The reason op's row is malformed, or NULL. */
static const char *op_row_problem(const svc_op_t *op) {
    int needs_perm = op->access == SVC_PERM || op->access == SVC_PERM_OR_SELF;
    if (!op->name || !op->name[0]) return "has no name";
    if (op->access <= SVC_ACCESS_UNSET || op->access > SVC_INTERNAL) return "has no access rule";
    if (needs_perm && (!op->permission || !op->permission[0])) return "needs a .permission";
    if (!needs_perm && op->permission) return "has a .permission its access rule ignores";
    if (!op->method != !op->route) return "needs both .method and .route, or neither";
    if (op->access == SVC_INTERNAL && op->route) return "is internal but has a REST route";
    if (!op->handle) return "has no handler";
    return NULL;
}

/* The reason consumer row c is malformed, or NULL: a [a-z_]+ name (durable "<module>_<name>"
 * fits in 64 bytes), an "events." filter, a handler. */
static const char *consumer_row_problem(const svc_module_t *m, const svc_consumer_t *c) {
    if (!c->name || !c->name[0]) return "has no name";
    if (strlen(m->name) + 1 + strlen(c->name) > 63) return "has too long a name";
    for (const char *p = c->name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_')) return "has a name that is not [a-z_]+";
    if (!c->filter || strncmp(c->filter, "events.", 7) != 0 || !c->filter[7])
        return "needs an events.* .filter";
    if (strlen(c->filter) > 200 || strpbrk(c->filter, " \t\r\n")) return "has a bad .filter";
    if (!c->handle) return "has no handler";
    if (c->max_tries < 0) return "has a negative .max_tries";
    if (c->batch < 0 || c->batch > 1024) return "has a .batch outside 0..1024";
    if (c->linger_ms < 0 || c->linger_ms > 10000) return "has a .linger_ms outside 0..10000";
    for (const svc_consumer_t *o = m->consumers; o < c; o++)
        if (strcmp(o->name, c->name) == 0) return "repeats a name";
    return NULL;
}

int svc_check_module(const svc_module_t *m, err_t *e) {
    for (size_t i = 0; i < m->n_ops; i++) {
        const char *why = op_row_problem(&m->ops[i]);
        if (why)
            return err_set(e, 500, "invalid_operation_table", "",
                           "operation %zu (%s) of service %s %s", i,
                           m->ops[i].name ? m->ops[i].name : "?", m->name, why);
    }
    for (size_t i = 0; i < m->n_consumers; i++) {
        const char *why = m->consumers ? consumer_row_problem(m, &m->consumers[i]) : "is NULL";
        if (why)
            return err_set(
                e, 500, "invalid_operation_table", "", "consumer %zu (%s) of service %s %s", i,
                m->consumers && m->consumers[i].name ? m->consumers[i].name : "?", m->name, why);
    }
    return 0;
}

int svc_check_registry(err_t *e) {
    for (const svc_module_t *const *m = svc_registry; *m; m++)
        if (svc_check_module(*m, e) != 0) return -1;
    return 0;
}

int svc_call(const svc_env_t *env, const char *module_name, const char *op_name,
             const svc_caller_t *caller, json_t *input, int *status, json_t **output, err_t *e) {
    const svc_module_t *m = svc_find_module(module_name);
    const svc_op_t *op = m ? svc_find_op(m, op_name) : NULL;
    *output = NULL;
    if (!op) {
        err_set(e, 500, "unknown_operation", "", "no operation %s.%s", module_name, op_name);
        *status = e->status;
        return -1;
    }
    return svc_invoke(env, m, op, caller, input, status, output, e);
}

int svc_invoke(const svc_env_t *env, const svc_module_t *m, const svc_op_t *op,
               const svc_caller_t *caller, json_t *input, int *status, json_t **output, err_t *e) {
    if (!env->cfg || cfg_service_enabled(env->cfg, m->name))
        return svc_dispatch(env, m, op, caller, input, status, output, e);
    return svc_call_remote(env, m, op, caller, input, status, output, e);
}

int svc_invoke_raw(const svc_env_t *env, const svc_module_t *m, const svc_op_t *op,
                   const svc_caller_t *caller, json_t *input, int *status, json_t **output,
                   err_t *e) {
    if (!env->cfg || cfg_service_enabled(env->cfg, m->name))
        return svc_dispatch_raw(env, m, op, caller, input, status, output, e);
    return svc_call_remote(env, m, op, caller, input, status, output, e);
}

int svc_authorized(const svc_caller_t *caller, const char *permission) {
    if (!permission) return 1;
    if (!caller) return 0;
    size_t plen = strlen(permission);
    const char *p = caller->perms;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 1 && p[0] == '*') return 1;
        if (len == plen && memcmp(p, permission, len) == 0) return 1;
        p += len;
    }
    return 0;
}

db_scope_t svc_scope(const svc_call_t *call, const char *club_id) {
    return (db_scope_t){
        .club_id = club_id ? club_id : call->caller->club_id,
        .user_id = call->caller->user_id,
        .network_admin = call->caller->network_admin,
        .relay = 0,
    };
}

int svc_begin(const svc_call_t *call, db_tx_t **tx, err_t *e) {
    db_scope_t scope = svc_scope(call, NULL);
    return db_begin(call->env->db, &scope, tx, e);
}

int svc_begin_in(const svc_call_t *call, const char *club_id, db_tx_t **tx, err_t *e) {
    db_scope_t scope = svc_scope(call, club_id ? club_id : "");
    scope.network_admin = 0;
    return db_begin(call->env->db, &scope, tx, e);
}

int svc_begin_deferred(const svc_call_t *call, const char *club_id, db_tx_t **tx, err_t *e) {
    db_scope_t scope = svc_scope(call, club_id);
    if (club_id) scope.network_admin = 0;
    return db_begin_deferred(call->env->db, &scope, tx, e);
}

static const char *nonempty(const char *s) {
    return s && s[0] ? s : NULL;
}

/* The envelope metadata of an event written by an operation: its caller's request. */
static outbox_meta_t call_meta(const svc_call_t *call) {
    const svc_caller_t *k = call->caller;
    return (outbox_meta_t){
        .correlation_id = nonempty(k->request_id),
        .causation_id = NULL, /* a call is caused by a request, not by an event */
        .user_id = nonempty(k->user_id),
        .ip_address = nonempty(k->ip),
        .user_agent = nonempty(k->user_agent),
    };
}

int svc_emit(const svc_call_t *call, db_tx_t *tx, const char *type, const char *tenant_id,
             json_t *data, err_t *e) {
    outbox_meta_t meta = call_meta(call);
    int rc = outbox_add(tx, call->module->schema, type, call->module->name, tenant_id, data, &meta,
                        NULL, e);
    json_decref(data);
    return rc;
}

int svc_emit_batch(const svc_call_t *call, db_batch_t *b, const char *type, const char *tenant_id,
                   json_t *data, err_t *e) {
    outbox_meta_t meta = call_meta(call);
    int rc = outbox_add_batch(b, call->module->schema, type, call->module->name, tenant_id, data,
                              &meta, e);
    json_decref(data);
    return rc;
}

int svc_event_row(const svc_call_t *call, outbox_row_t *row, int first, const char *type,
                  const char *tenant_id, json_t *data, err_t *e) {
    outbox_meta_t meta = call_meta(call);
    int rc = outbox_row_make(row, first, call->module->schema, type, call->module->name, tenant_id,
                             data, &meta, e);
    json_decref(data);
    return rc;
}

int svc_emit_many(const svc_call_t *call, db_tx_t *tx, const char *type, const char *tenant_id,
                  json_t *const *data, size_t n, err_t *e) {
    outbox_meta_t meta = call_meta(call);
    return outbox_add_many(tx, call->module->schema, type, call->module->name, tenant_id, data, n,
                           &meta, e);
}

static int unauthenticated(err_t *e) {
    return err_set(e, 401, "unauthenticated", "", "this operation needs a signed-in caller");
}

int svc_access_check(const svc_op_t *op, const svc_caller_t *caller, err_t *e) {
    int signed_in = caller && caller->user_id[0];
    switch (op->access) {
    case SVC_PUBLIC:
    case SVC_INTERNAL:
        return 0;
    case SVC_SIGNED_IN:
    case SVC_PERM_OR_SELF: /* the handler decides between staff and the record's owner */
        return signed_in ? 0 : unauthenticated(e);
    case SVC_PERM:
        if (op->permission && svc_authorized(caller, op->permission)) return 0;
        if (!signed_in) return unauthenticated(e);
        return err_set(e, 403, "forbidden", "", "missing permission %s", op->permission);
    case SVC_NETWORK_ADMIN:
        if (caller && caller->network_admin) return 0;
        if (!signed_in) return unauthenticated(e);
        return err_set(e, 403, "forbidden", "", "only a network administrator may do this");
    case SVC_ACCESS_UNSET:
    default:
        break;
    }
    return err_set(e, 500, "invalid_operation_table", "", "operation %s has no access rule",
                   op->name);
}

int svc_dispatch(const svc_env_t *env, const svc_module_t *m, const svc_op_t *op,
                 const svc_caller_t *caller, json_t *input, int *status, json_t **output,
                 err_t *e) {
    if (svc_dispatch_raw(env, m, op, caller, input, status, output, e) != 0) return -1;
    json_t *had = *output;
    *output = jsonx_materialize(*output);
    if (had && !*output) {
        err_set(e, 500, "internal", "", "out of memory reading a document");
        *status = e->status;
        return -1;
    }
    return 0;
}

int svc_dispatch_raw(const svc_env_t *env, const svc_module_t *m, const svc_op_t *op,
                     const svc_caller_t *caller, json_t *input, int *status, json_t **output,
                     err_t *e) {
    *output = NULL;
    *status = 0;
    if (!json_is_object(input)) {
        err_set(e, 400, "invalid_input", "", "operation input must be a JSON object");
        goto fail;
    }
    /* authorise before validating: a caller who may not call learns nothing about its input */
    if (svc_access_check(op, caller, e) != 0) goto fail;
    if (op->validate && op->validate(input, e) != 0) goto fail;
    svc_call_t call = {.env = env, .module = m, .op = op, .caller = caller};
    if (op->handle(&call, input, output, e) != 0) {
        if (*output) {
            json_decref(*output);
            *output = NULL;
        }
        goto fail;
    }
    *status = op->status;
    return 0;
fail:
    if (e->status == 0) err_set(e, 500, "internal", "", "operation failed without a reason");
    *status = e->status;
    if (e->status >= 500) log_error("%s.%s failed: %s", m->name, op->name, e->message);
    return -1;
}

/* ---- raw (non-JSON) responses ---- */

static const char *const raw_types[] = {"text/csv; charset=utf-8",
                                        "application/json; charset=utf-8", "image/svg+xml",
                                        "application/pdf", NULL};

json_t *svc_raw_output(const char *content_type, const char *filename, const char *body) {
    return json_pack("{s:{s:s, s:s?, s:s}}", "$raw", "content_type", content_type, "filename",
                     filename, "body", body ? body : "");
}

int svc_raw_parts(const json_t *output, const char **content_type, const char **filename,
                  const char **body) {
    json_t *raw = json_is_object(output) ? json_object_get(output, "$raw") : NULL;
    const char *ct = json_string_value(json_object_get(raw, "content_type"));
    const char *b = json_string_value(json_object_get(raw, "body"));
    if (!ct || !b) return 0;
    for (const char *const *t = raw_types; *t; t++) {
        if (strcmp(*t, ct) == 0) {
            *content_type = *t;
            *filename = json_string_value(json_object_get(raw, "filename"));
            *body = b;
            return 1;
        }
    }
    return 0;
}

/* ---- caller envelope ---- */

json_t *svc_caller_to_json(const svc_caller_t *c) {
    return json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:s}", "user_id", c->user_id,
                     "club_id", c->club_id, "network_admin", c->network_admin, "perms", c->perms,
                     "request_id", c->request_id, "trace_id", c->trace_id, "ip", c->ip,
                     "user_agent", c->user_agent, "session_id", c->session_id);
}

static void copy_field(json_t *j, const char *key, char *dst, size_t cap) {
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(dst, cap, "%s", v ? v : "");
}

int svc_caller_from_json(json_t *j, svc_caller_t *c, err_t *e) {
    memset(c, 0, sizeof *c);
    if (!json_is_object(j)) return err_set(e, 400, "invalid_envelope", "caller", "caller missing");
    copy_field(j, "user_id", c->user_id, sizeof c->user_id);
    copy_field(j, "club_id", c->club_id, sizeof c->club_id);
    copy_field(j, "perms", c->perms, sizeof c->perms);
    copy_field(j, "request_id", c->request_id, sizeof c->request_id);
    copy_field(j, "trace_id", c->trace_id, sizeof c->trace_id);
    copy_field(j, "ip", c->ip, sizeof c->ip);
    copy_field(j, "user_agent", c->user_agent, sizeof c->user_agent);
    copy_field(j, "session_id", c->session_id, sizeof c->session_id);
    c->network_admin = json_is_true(json_object_get(j, "network_admin"));
    return 0;
}

/* ---- NATS transport ---- */

typedef struct bus_binding {
    const svc_env_t *env;
    const svc_module_t *module;
} bus_binding_t;

static json_t *error_reply(const err_t *e) {
    json_t *err = json_pack("{s:s, s:s}", "code", e->code, "message", e->message);
    if (e->field[0]) json_object_set_new(err, "field", json_string(e->field));
    return json_pack("{s:i, s:o}", "status", e->status ? e->status : 500, "error", err);
}

/* ---- signed envelope (docs/security.md N2) ----
 * A call over NATS is "RCB1 <exp_ms> <mac>\n<json>" where json is {"caller":..,"input":..},
 * exp_ms the wall-clock expiry in Unix milliseconds and mac the hex HMAC-SHA256, under
 * RECIPROCAL_BUS_KEY, of "RCB1\n<subject>\n<exp_ms>\n<json>": the caller is believed only when
 * it was sealed by a process holding the key, for this subject, this input and recently. */

#define ENVELOPE_TAG "RCB1"
#define ENVELOPE_TTL_MS 30000LL  /* lifetime of an assertion */
#define ENVELOPE_SKEW_MS 30000LL /* tolerated clock difference between two hosts */

static long long wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void envelope_mac(const unsigned char key[32], const char *subject, const char *exp,
                         const char *json, size_t len, unsigned char mac[32]) {
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, 32);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ENVELOPE_TAG "\n", 5);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)subject, strlen(subject));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)exp, strlen(exp));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)json, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
}

char *svc_envelope_seal(const unsigned char key[32], const char *subject,
                        const svc_caller_t *caller, json_t *input, size_t *len, err_t *e) {
    json_t *req = json_pack("{s:o, s:O}", "caller", svc_caller_to_json(caller), "input", input);
    char *json = req ? jsonx_dump(req) : NULL;
    json_decref(req);
    if (!json) {
        err_set(e, 500, "internal", "", "could not encode request");
        return NULL;
    }
    char exp[24], hex[65];
    unsigned char mac[32];
    size_t jlen = strlen(json);
    snprintf(exp, sizeof exp, "%lld", wall_ms() + ENVELOPE_TTL_MS);
    envelope_mac(key, subject, exp, json, jlen, mac);
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    size_t cap = strlen(ENVELOPE_TAG) + strlen(exp) + 64 + 3 + jlen + 1;
    char *out = malloc(cap);
    if (out) *len = (size_t)snprintf(out, cap, ENVELOPE_TAG " %s %s\n%s", exp, hex, json);
    free(json);
    if (!out) err_set(e, 500, "internal", "", "out of memory");
    return out;
}

int svc_envelope_open(const unsigned char key[32], const char *subject, const char *data,
                      size_t len, svc_caller_t *caller, json_t **envelope, err_t *e) {
    char exp[24];
    unsigned char mac[32], want[32];
    const char *p = data, *end = data + len;
    size_t n = 0;
    *envelope = NULL;
    memset(caller, 0, sizeof *caller);
    if (len < 5 || memcmp(p, ENVELOPE_TAG " ", 5) != 0) goto bad;
    for (p += 5; p < end && *p >= '0' && *p <= '9' && n + 1 < sizeof exp; p++)
        exp[n++] = *p;
    exp[n] = '\0';
    if (n == 0 || p + 66 > end || *p != ' ' || p[65] != '\n') goto bad;
    if (sodium_hex2bin(mac, sizeof mac, p + 1, 64, NULL, &n, NULL) != 0 || n != sizeof mac)
        goto bad;
    p += 66;
    envelope_mac(key, subject, exp, p, (size_t)(end - p), want);
    if (sodium_memcmp(mac, want, sizeof mac) != 0) goto bad;
    long long exp_ms = strtoll(exp, NULL, 10), now = wall_ms();
    if (exp_ms < now || exp_ms > now + ENVELOPE_TTL_MS + ENVELOPE_SKEW_MS) {
        log_warn("refused a call on %s: its caller assertion is expired or not yet valid", subject);
        return err_set(e, 401, "invalid_assertion", "", "the caller assertion has expired");
    }
    if (jsonx_parse_object(p, (size_t)(end - p), envelope, e) != 0) return -1;
    return svc_caller_from_json(json_object_get(*envelope, "caller"), caller, e);
bad:
    log_warn("refused a call on %s: no valid caller assertion (unsigned or forged)", subject);
    return err_set(e, 401, "invalid_assertion", "", "the call carries no valid caller assertion");
}

static char *bus_handler(const char *subject, const char *data, size_t len, size_t *reply_len,
                         void *ud) {
    const bus_binding_t *b = ud;
    err_t e = {0};
    json_t *env = NULL, *reply = NULL, *output = NULL;
    const char *op_name = strrchr(subject, '.');
    const svc_op_t *op = op_name ? svc_find_op(b->module, op_name + 1) : NULL;
    svc_caller_t caller;
    int status = 0;
    if (!op) {
        err_set(&e, 404, "unknown_operation", "", "no operation %s", subject);
        goto done;
    }
    if (svc_envelope_open(b->env->cfg->bus_key.key, subject, data, len, &caller, &env, &e) != 0)
        goto done;
    json_t *input = json_object_get(env, "input");
    log_set_context(caller.request_id, caller.trace_id);
    /* the reply is only serialised (jsonx_dump): pass-through documents stay unparsed */
    if (svc_dispatch_raw(b->env, b->module, op, &caller, input, &status, &output, &e) == 0)
        reply = json_pack("{s:i, s:o}", "status", status, "body", output ? output : json_null());
    log_clear_context();
done:
    if (!reply) reply = error_reply(&e);
    char *s = jsonx_dump(reply);
    json_decref(reply);
    json_decref(env);
    *reply_len = s ? strlen(s) : 0;
    return s;
}

int svc_serve_bus(const svc_env_t *env, const svc_module_t *m, int workers, err_t *e) {
    static bus_binding_t bindings[32];
    static int n_bindings;
    if (n_bindings >= 32) return err_set(e, 500, "internal", "", "too many service modules");
    if (!env->cfg || cfg_require_bus_key(env->cfg, e) != 0) return -1;
    bus_binding_t *b = &bindings[n_bindings++];
    b->env = env;
    b->module = m;
    char subject[128], queue[128];
    snprintf(subject, sizeof subject, "svc.%s.*", m->name);
    snprintf(queue, sizeof queue, "svc.%s", m->name);
    return bus_serve(env->bus, subject, queue, workers, bus_handler, b, e);
}

int svc_call_remote(const svc_env_t *env, const svc_module_t *m, const svc_op_t *op,
                    const svc_caller_t *caller, json_t *input, int *status, json_t **output,
                    err_t *e) {
    char subject[160];
    char *reply = NULL;
    size_t reply_len = 0;
    json_t *rj = NULL;
    int rc = -1;
    *output = NULL;
    snprintf(subject, sizeof subject, "svc.%s.%s", m->name, op->name);
    size_t body_len = 0;
    char *body = NULL;
    if (cfg_require_bus_key(env->cfg, e) != 0) goto done;
    body = svc_envelope_seal(env->cfg->bus_key.key, subject, caller, input, &body_len, e);
    if (!body) goto done;
    if (bus_request(env->bus, subject, body, body_len, env->cfg->nats_timeout_ms, &reply,
                    &reply_len, e) != 0)
        goto done;
    if (jsonx_parse_object(reply, reply_len, &rj, e) != 0) {
        err_set(e, 502, "bad_gateway", "", "service %s sent an unreadable reply", m->name);
        goto done;
    }
    *status = (int)json_integer_value(json_object_get(rj, "status"));
    json_t *err = json_object_get(rj, "error");
    if (err) {
        const char *code = json_string_value(json_object_get(err, "code"));
        const char *msg = json_string_value(json_object_get(err, "message"));
        const char *field = json_string_value(json_object_get(err, "field"));
        err_set(e, *status ? *status : 502, code ? code : "error", field, "%s", msg ? msg : "");
        goto done;
    }
    *output = json_incref(json_object_get(rj, "body"));
    rc = 0;
done:
    if (rc != 0) *status = e->status;
    free(body);
    free(reply);
    json_decref(rj);
    return rc;
}
