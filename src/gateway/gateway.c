/* gateway: see gateway.h. */
#include "gateway/gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/router.h"
#include "gateway/authn.h"
#include "gateway/graphql_api.h"

struct gateway {
    const svc_env_t *env;
    router_t *router;
    gql_api_t *graphql; /* POST/GET /graphql (gateway/graphql_api.c) */
};

typedef struct gw_target {
    const svc_module_t *module;
    const svc_op_t *op;
} gw_target_t;

/* One target per operation of every module, allocated once. */
static gw_target_t *gw_targets;

gateway_t *gw_new(const svc_env_t *env, err_t *e) {
    gateway_t *g = calloc(1, sizeof *g);
    size_t n = 0;
    if (!g) goto oom;
    g->env = env;
    g->router = router_new();
    if (!g->router) goto oom;
    for (const svc_module_t *const *m = svc_registry; *m; m++)
        n += (*m)->n_ops;
    free(gw_targets);
    gw_targets = calloc(n ? n : 1, sizeof *gw_targets);
    if (!gw_targets) goto oom;
    size_t i = 0;
    for (const svc_module_t *const *m = svc_registry; *m; m++) {
        for (size_t k = 0; k < (*m)->n_ops; k++, i++) {
            const svc_op_t *op = &(*m)->ops[k];
            gw_targets[i] = (gw_target_t){*m, op};
            if (!op->route) continue;
            if (router_add(g->router, op->method, op->route, &gw_targets[i]) != 0) {
                err_set(e, 500, "internal", "", "route %s %s of %s.%s is malformed or duplicate",
                        op->method, op->route, (*m)->name, op->name);
                gw_free(g);
                return NULL;
            }
        }
    }
    g->graphql = gql_api_new(env, e);
    if (!g->graphql) {
        gw_free(g);
        return NULL;
    }
    metrics_gauge_declare("db_pool_connections", "Database pool connections by state", "state");
    metrics_counter_declare("db_pool_waits_total",
                            "Times a request waited for a database connection", NULL);
    metrics_gauge_declare("bus_connected", "1 when the NATS connection is up", NULL);
    return g;
oom:
    err_set(e, 500, "internal", "", "out of memory building the gateway");
    gw_free(g);
    return NULL;
}

void gw_free(gateway_t *g) {
    if (!g) return;
    router_free(g->router);
    gql_api_free(g->graphql);
    free(g);
    free(gw_targets);
    gw_targets = NULL;
}

static void set_json(http_response_t *resp, int status, json_t *body) {
    char *s = jsonx_dump(body);
    http_set_body(resp, status, s ? s : strdup("{}"));
}

static void error_response(http_response_t *resp, int status, const char *code, const char *field,
                           const char *msg) {
    err_t e;
    err_set(&e, status, code, field, "%s", msg);
    http_set_error(resp, &e);
}

/* ---- health and metrics ---- */

static void refresh_gauges(const svc_env_t *env) {
    int size = 0, in_use = 0;
    long long waits = 0;
    db_pool_stats(env->db, &size, &in_use, &waits);
    metrics_gauge_set("db_pool_connections", (const char *[]){"in_use", NULL}, in_use);
    metrics_gauge_set("db_pool_connections", (const char *[]){"idle", NULL}, size - in_use);
    metrics_gauge_set("bus_connected", NULL, bus_connected(env->bus) ? 1 : 0);
}

static void handle_ready(gateway_t *g, http_response_t *resp) {
    err_t e = {0};
    int db_ok = db_ping(g->env->db, &e) == 0;
    int bus_ok = bus_ping(g->env->bus, 1000, &e) == 0;
    json_t *body =
        json_pack("{s:s, s:{s:s, s:s}}", "status", db_ok && bus_ok ? "ready" : "unready", "checks",
                  "postgres", db_ok ? "up" : "down", "nats", bus_ok ? "up" : "down");
    if (!(db_ok && bus_ok)) {
        json_t *err = json_pack("{s:s, s:s}", "code", "unavailable", "message",
                                !db_ok ? "PostgreSQL is not reachable" : "NATS is not reachable");
        json_object_set_new(body, "error", err);
    }
    set_json(resp, db_ok && bus_ok ? 200 : 503, body);
    json_decref(body);
}

/* ---- operations ---- */

/* Query arguments become string fields of the input unless the body already set them. */
/* op->accept_field from the Accept header (text/csv -> "csv", application/pdf -> "pdf") when
 * the query did not set it: GET /statements/{id} with Accept: application/pdf. */
static void accept_format(const http_request_t *req, const svc_op_t *op, json_t *input) {
    const char *accept = http_header(req, "Accept");
    if (!op->accept_field || !accept || json_object_get(input, op->accept_field)) return;
    const char *v = strstr(accept, "text/csv")          ? "csv"
                    : strstr(accept, "application/pdf") ? "pdf"
                                                        : NULL;
    if (v) json_object_set_new(input, op->accept_field, json_string(v));
}

static void add_query_arg(const char *k, const char *v, void *ud) {
    json_t *input = ud;
    if (!k || !*k || json_object_get(input, k)) return;
    json_object_set_new(input, k, json_string(v ? v : ""));
}

/* ct is the media type `type` (case-insensitive), optionally followed by parameters. */
static int content_type_is(const char *ct, const char *type) {
    if (!ct) return 0;
    size_t n = strlen(type);
    if (strncasecmp(ct, type, n) != 0) return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

static int content_type_is_json(const char *ct) {
    return content_type_is(ct, "application/json");
}

size_t gw_body_limit(const char *method, const char *path, void *ud) {
    gateway_t *g = ud;
    router_match_t m;
    char allow[128];
    if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0 && strcmp(method, "PATCH") != 0)
        return 0; /* no body expected: the hot GET path skips the extra route lookup */
    if (router_match(g->router, method, path, &m, allow, sizeof allow) != 200) return 0;
    const gw_target_t *t = m.target;
    return t->op->max_body;
}

/* The caller from the bearer token (gateway/authn.c). An invalid token fails every operation
 * but the SVC_PUBLIC ones (login, JWKS, ...), which run anonymously. */
static int caller_from_request(gateway_t *g, const http_request_t *req, const svc_op_t *op,
                               svc_caller_t *c, err_t *e) {
    if (authn_caller(g->env, req, c, e) == 0) return 0;
    return op->access != SVC_PUBLIC || e->status >= 500 ? -1 : 0;
}

static void handle_operation(gateway_t *g, const http_request_t *req, http_response_t *resp,
                             const router_match_t *m) {
    const gw_target_t *t = m->target;
    json_t *input = NULL, *output = NULL;
    err_t e = {0};
    int status = 0;
    int has_body = req->body_len > 0;
    int wants_body = strcmp(req->method, "POST") == 0 || strcmp(req->method, "PATCH") == 0 ||
                     strcmp(req->method, "PUT") == 0;
    const svc_op_t *oh = t->op;
    if (has_body && wants_body && oh->body_type && oh->body_field &&
        content_type_is(req->content_type, oh->body_type)) {
        /* a raw body this operation also accepts (e.g. text/csv): one string input field */
        json_t *text = json_stringn(req->body, req->body_len);
        if (!text) {
            error_response(resp, 400, "invalid_body", "body", "the body must be UTF-8 text");
            return;
        }
        input = json_object();
        json_object_set_new(input, oh->body_field, text);
    } else if (has_body && wants_body) {
        if (!content_type_is_json(req->content_type)) {
            char msg[128];
            snprintf(msg, sizeof msg, "send the body as application/json%s%s",
                     oh->body_type ? " or " : "", oh->body_type ? oh->body_type : "");
            error_response(resp, 415, "unsupported_media_type", "content-type", msg);
            return;
        }
        if (jsonx_parse_object(req->body, req->body_len, &input, &e) != 0) {
            http_set_error(resp, &e);
            return;
        }
    } else {
        input = json_object();
    }
    http_query_each(req, add_query_arg, input);
    accept_format(req, t->op, input);
    for (int i = 0; i < m->n_params; i++)
        json_object_set_new(input, m->names[i], json_string(m->values[i]));
    if (oh->header && oh->header_field) {
        /* only the header sets this field: a query or body value of that name is dropped */
        const char *hv = http_header(req, oh->header);
        json_t *hs = hv ? json_string(hv) : NULL;
        if (hs)
            json_object_set_new(input, oh->header_field, hs);
        else
            json_object_del(input, oh->header_field);
    }

    svc_caller_t caller;
    if (caller_from_request(g, req, t->op, &caller, &e) != 0) {
        http_set_error(resp, &e);
        authn_error_headers(resp, &e);
        json_decref(input);
        return;
    }
    const char *raw_type = NULL, *raw_name = NULL, *raw_body = NULL;
    /* the answer is only serialised (set_json: jsonx_dump splices pass-through documents) */
    if (svc_invoke_raw(g->env, t->module, t->op, &caller, input, &status, &output, &e) != 0) {
        http_set_error(resp, &e);
        authn_error_headers(resp, &e);
    } else if (status == 204 || !output || json_is_null(output)) {
        http_set_body(resp, status == 200 && !output ? 204 : status, strdup(""));
    } else if (svc_raw_parts(output, &raw_type, &raw_name, &raw_body)) {
        /* a non-JSON body (svc_raw_output): sent as is, optionally as a download */
        http_set_body(resp, status, strdup(raw_body));
        resp->content_type = raw_type;
        if (raw_name) {
            char cd[160];
            size_t o = (size_t)snprintf(cd, sizeof cd, "attachment; filename=\"");
            for (const char *p = raw_name; *p && o < sizeof cd - 3; p++)
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_')
                    cd[o++] = *p;
            cd[o++] = '"';
            cd[o] = 0;
            http_add_header(resp, "Content-Disposition", cd);
        }
    } else {
        set_json(resp, status, output);
        const char *id = json_string_value(json_object_get(output, "id"));
        if (status == 201 && id) {
            char loc[512];
            snprintf(loc, sizeof loc, "%s/%s", req->path, id);
            http_add_header(resp, "Location", loc);
        }
    }
    json_decref(output);
    json_decref(input);
}

void gw_handle(const http_request_t *req, http_response_t *resp, void *ud) {
    gateway_t *g = ud;
    if (strcmp(req->path, "/health/live") == 0) {
        resp->route = "/health/live";
        http_set_body(resp, 200, strdup("{\"status\":\"live\"}"));
        return;
    }
    if (strcmp(req->path, "/health/ready") == 0) {
        resp->route = "/health/ready";
        handle_ready(g, resp);
        return;
    }
    if (strcmp(req->path, "/metrics") == 0) {
        resp->route = "/metrics";
        refresh_gauges(g->env);
        char *text = metrics_render();
        http_set_body(resp, 200, text ? text : strdup(""));
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        return;
    }
    if (strcmp(req->path, "/graphql") == 0) {
        resp->route = "/graphql";
        gql_api_handle(g->graphql, req, resp);
        return;
    }
    router_match_t m;
    char allow[128] = "";
    int rc = router_match(g->router, req->method, req->path, &m, allow, sizeof allow);
    if (rc == 404) {
        error_response(resp, 404, "not_found", "", "no such endpoint");
        return;
    }
    if (rc == 405) {
        error_response(resp, 405, "method_not_allowed", "", "method not allowed here");
        http_add_header(resp, "Allow", allow);
        return;
    }
    resp->route = m.route;
    handle_operation(g, req, resp, &m);
}
