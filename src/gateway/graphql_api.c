/* graphql_api: see graphql_api.h. */
#include "gateway/graphql_api.h"

#include <ctype.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "gateway/authn.h"
#include "gateway/graphql_bind.h"
#include "lib/graphql/gql_exec.h"
#include "lib/graphql/gql_parser.h"
#include "lib/graphql/gql_validate.h"

#define DOC_CACHE_MAX 1024
/* After a response body (or a cut-off execution) of this size, free heap pages go back to the
 * system (malloc_trim): a large response leaves thousands of small jansson blocks behind in the
 * worker's malloc arena that would otherwise keep the process's RSS at its peak. */
#define TRIM_AFTER_BYTES (1u << 20)
/* Blocks of this size and above are always mmap'd, so a large response body is returned to the
 * system when freed (glibc would otherwise raise its threshold after the first such free). */
#define MMAP_THRESHOLD_BYTES (256u << 10)

typedef struct doc_entry {
    char id[72]; /* sha256:<64 hex> */
    char *text;
} doc_entry;

struct gql_api {
    const svc_env_t *env;
    gql_schema *schema;
    gql_resolvers *resolvers;
    pthread_mutex_t lock; /* doc cache */
    doc_entry docs[DOC_CACHE_MAX];
    size_t ndocs;
};

/* ---- resolvers: health and clubs (members: graphql_members.c, me: graphql_auth.c) ---- */

static int r_health(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                    char **error) {
    (void)parent, (void)args, (void)error;
    api_req *r = info->ctx;
    err_t e = {0};
    int db_ok = db_ping(r->env->db, &e) == 0;
    int bus_ok = bus_ping(r->env->bus, 1000, &e) == 0;
    *out = json_pack("{s:s, s:b, s:b}", "status", db_ok && bus_ok ? "ready" : "unready", "postgres",
                     db_ok, "nats", bus_ok);
    return 0;
}

/* Reads a REST key (snake_case) named by ud from the parent; the GraphQL name when absent
 * (objects already converted by gqlb_output, e.g. a member's addresses). */
static int r_key(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                 char **error) {
    (void)args, (void)error;
    json_t *v = json_object_get(parent, info->ud);
    if (!v) v = json_object_get(parent, info->field->name);
    *out = v ? json_incref(v) : NULL;
    return 0;
}

static int r_upper(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                   char **error) {
    (void)args, (void)error;
    *out = gqlb_upper(json_object_get(parent, info->ud));
    return 0;
}

/* Query.club: batch hook loads every id of the selection set with one get_clubs_by_ids. */
static void pf_club(const gql_resolve_info *info, json_t *calls) {
    json_t *ids = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c) {
        json_t *id = json_object_get(json_array_get(c, 1), "id");
        if (json_is_string(id)) json_array_append(ids, id);
    }
    gqlb_prefetch_clubs(info->ctx, ids);
    json_decref(ids);
}

static int r_club(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                  char **error) {
    (void)parent;
    err_t e = {0};
    if (gqlb_club(info->ctx, json_string_value(json_object_get(args, "id")), out, &e) != 0)
        return gqlb_fail(info, &e, error);
    return 0;
}

static char *club_cursor(json_t *club) {
    char key[160];
    snprintf(key, sizeof key, "%s|%s",
             json_string_value(json_object_get(club, "created_at"))
                 ? json_string_value(json_object_get(club, "created_at"))
                 : "",
             json_string_value(json_object_get(club, "id"))
                 ? json_string_value(json_object_get(club, "id"))
                 : "");
    return jsonx_b64url_encode((const unsigned char *)key, strlen(key));
}

static int r_clubs(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                   char **error) {
    (void)parent;
    api_req *r = info->ctx;
    json_t *input = json_object();
    json_t *first = json_object_get(args, "first");
    if (json_is_integer(first)) {
        long long n = json_integer_value(first);
        if (n < 1 || n > 100) {
            json_decref(input);
            gql_resolve_error_code(info, "invalid_field");
            *error = strdup("first must be from 1 to 100");
            return -1;
        }
        json_object_set_new(input, "limit", json_integer(n));
    }
    static const char *const keys[] = {"after", "country", "status", "facility", NULL};
    for (const char *const *k = keys; *k; k++) {
        json_t *v = json_object_get(args, *k);
        if (!json_is_string(v)) continue;
        char buf[256];
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
        if (strcmp(*k, "status") == 0 || strcmp(*k, "facility") == 0)
            for (char *q = buf; *q; q++)
                *q = (char)tolower((unsigned char)*q);
        json_object_set_new(input, *k, json_string(buf));
    }
    json_t *output = NULL;
    err_t e = {0};
    int rc = gqlb_call(r, "member", "list_clubs", input, &output, &e);
    json_decref(input);
    if (rc != 0) return gqlb_fail(info, &e, error);
    json_t *items = json_object_get(output, "items");
    size_t i;
    json_t *club;
    json_array_foreach(items, i, club) {
        const char *cid = json_string_value(json_object_get(club, "id"));
        if (cid) json_object_set(r->clubs, cid, club);
    }
    char *last = NULL;
    /* every edge's cursor is computed (the REST next_cursor has the same form) */
    json_t *edges = gqlb_edges(items, NULL, club_cursor, NULL, &last);
    json_t *next = json_object_get(output, "next_cursor");
    *out = json_pack("{s:o, s:{s:b, s:o}}", "edges", edges, "pageInfo", "hasNextPage",
                     json_is_string(next), "endCursor", last ? json_string(last) : json_null());
    free(last);
    json_decref(output);
    return 0;
}

static int r_mutation(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                      char **error) {
    (void)parent;
    json_t *input = gqlb_rest_input(json_object_get(args, "input"));
    int rc = gqlb_mutation(info, "member", info->ud, input, "club", NULL, out, error);
    json_decref(input);
    return rc;
}

static int add_resolvers(gql_resolvers *rs) {
    int rc = 0;
    rc |= gql_resolvers_add(rs, "Query", "health", r_health, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Query", "club", r_club, pf_club, NULL);
    rc |= gql_resolvers_add(rs, "Query", "clubs", r_clubs, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Club", "status", r_upper, NULL, "status");
    rc |= gql_resolvers_add(rs, "Club", "facilities", r_upper, NULL, "facilities");
    static const char *const club_keys[][2] = {{"contactEmail", "contact_email"},
                                               {"contactPhone", "contact_phone"},
                                               {"createdAt", "created_at"},
                                               {"updatedAt", "updated_at"}};
    for (size_t i = 0; i < sizeof club_keys / sizeof club_keys[0]; i++)
        rc |= gql_resolvers_add(rs, "Club", club_keys[i][0], r_key, NULL, (void *)club_keys[i][1]);
    rc |= gql_resolvers_add(rs, "Address", "postalCode", r_key, NULL, "postal_code");
    rc |= gql_resolvers_add(rs, "Mutation", "createClub", r_mutation, NULL, "create_club");
    rc |= gql_resolvers_add(rs, "Mutation", "updateClub", r_mutation, NULL, "update_club");
    rc |= gql_resolvers_add(rs, "Mutation", "deactivateClub", r_mutation, NULL, "deactivate_club");
    rc |= gql_resolvers_add(rs, "Mutation", "activateClub", r_mutation, NULL, "activate_club");
    for (const svc_module_t *const *m = svc_registry; *m; m++) /* each service's fields */
        if ((*m)->graphql) rc |= (*m)->graphql(rs);
    return rc;
}

gql_api_t *gql_api_new(const svc_env_t *env, err_t *e) {
    gql_api_t *api = calloc(1, sizeof *api);
    if (!api) {
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    api->env = env;
    pthread_mutex_init(&api->lock, NULL);
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    api->schema = gql_schema_build(graphql_schema_sdl, graphql_schema_sdl_len, NULL, e);
    if (!api->schema) goto fail;
    api->resolvers = gql_resolvers_new(api->schema);
    if (!api->resolvers || add_resolvers(api->resolvers) != 0) {
        err_set(e, 500, "internal", "", "GraphQL resolvers do not match docs/schema.graphql");
        goto fail;
    }
    metrics_counter_declare("graphql_operation_calls_total",
                            "Service operations called by GraphQL resolvers", "operation");
    return api;
fail:
    gql_api_free(api);
    return NULL;
}

void gql_api_free(gql_api_t *api) {
    if (!api) return;
    gql_resolvers_free(api->resolvers);
    gql_schema_free(api->schema);
    for (size_t i = 0; i < api->ndocs; i++)
        free(api->docs[i].text);
    pthread_mutex_destroy(&api->lock);
    free(api);
}

/* ---- persisted documents ---- */

static void sha256_id(const char *text, size_t len, char out[72]) {
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(text, len, md, &n, EVP_sha256(), NULL);
    strcpy(out, "sha256:");
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* Returns a malloc'd document text, NULL when unknown (e set). */
static char *load_document(api_req *r, const char *id, err_t *e) {
    gql_api_t *api = r->api;
    pthread_mutex_lock(&api->lock);
    for (size_t i = 0; i < api->ndocs; i++)
        if (strcmp(api->docs[i].id, id) == 0) {
            char *t = strdup(api->docs[i].text);
            pthread_mutex_unlock(&api->lock);
            return t;
        }
    pthread_mutex_unlock(&api->lock);
    json_t *input = json_pack("{s:s}", "id", id), *output = NULL;
    int rc = gqlb_call(r, "gateway", "get_graphql_document", input, &output, e);
    json_decref(input);
    const char *text = rc == 0 ? json_string_value(json_object_get(output, "document")) : NULL;
    char *t = text ? strdup(text) : NULL;
    json_decref(output);
    if (!t) {
        if (rc == 0 || e->status == 404)
            err_set(e, 404, "persisted_document_not_found", "documentId",
                    "Persisted document not found.");
        return NULL;
    }
    char check[72];
    sha256_id(t, strlen(t), check);
    if (strcmp(check, id) != 0) {
        free(t);
        err_set(e, 500, "internal", "documentId", "stored document does not match its id");
        return NULL;
    }
    pthread_mutex_lock(&api->lock);
    if (api->ndocs < DOC_CACHE_MAX) {
        snprintf(api->docs[api->ndocs].id, sizeof api->docs[api->ndocs].id, "%s", id);
        api->docs[api->ndocs].text = strdup(t);
        if (api->docs[api->ndocs].text) api->ndocs++;
    }
    pthread_mutex_unlock(&api->lock);
    return t;
}

/* ---- HTTP ---- */

#define CT_GQL "application/graphql-response+json; charset=utf-8"
#define CT_JSON "application/json; charset=utf-8"

/* Case-insensitive strstr (strcasestr is a GNU extension). */
static const char *ci_find(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return hay;
    return NULL;
}

/* How the Accept header rates one media type (RFC 9110 12.5.1): the most specific matching
 * range wins (type/subtype, then type/any, then any/any); q from that range (default 1; q=0: not
 * acceptable); pos = its place in the header (earlier wins a tie). */
typedef struct accept_rating {
    double q;
    int specificity; /* 0 = no range matches */
    int pos;
} accept_rating;

static int range_matches(const char *range, size_t n, const char *type, int *specificity) {
    const char *slash = strchr(type, '/');
    size_t tn = (size_t)(slash - type);
    if (n == 3 && strncmp(range, "*/*", 3) == 0) {
        *specificity = 1;
        return 1;
    }
    if (n == tn + 2 && strncasecmp(range, type, tn + 1) == 0 && range[tn + 1] == '*') {
        *specificity = 2;
        return 1;
    }
    if (n == strlen(type) && strncasecmp(range, type, n) == 0) {
        *specificity = 3;
        return 1;
    }
    return 0;
}

/* q parameter of one media range's parameters ("; a=b; q=0.5"); 1 when absent or malformed. */
static double range_q(const char *p, const char *end) {
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            char buf[16];
            size_t n = 0;
            for (p += 2; p < end && n < sizeof buf - 1 && *p != ';' && *p != ' '; p++)
                buf[n++] = *p;
            buf[n] = 0;
            char *stop;
            double q = strtod(buf, &stop);
            if (n == 0 || *stop || q < 0 || q > 1) return 1;
            return q;
        }
        while (p < end && *p != ';')
            p++;
    }
    return 1;
}

static accept_rating rate_media_type(const char *accept, const char *type) {
    accept_rating best = {0, 0, 0};
    int pos = 0;
    for (const char *p = accept; *p; pos++) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *r_end = p;
        while (r_end < end && *r_end != ';' && *r_end != ' ' && *r_end != '\t')
            r_end++;
        int spec = 0;
        if (range_matches(p, (size_t)(r_end - p), type, &spec) && spec > best.specificity)
            best = (accept_rating){range_q(r_end, end), spec, pos};
        p = *end ? end + 1 : end;
    }
    return best;
}

/* 1: application/graphql-response+json, 0: application/json, -1: neither is acceptable (406).
 * No Accept header (or an empty one): application/json. A tie goes to the more specific range,
 * then to the one named first; a tie on the any/any range to application/json. */
static int negotiate_media_type(const char *accept) {
    if (!accept || !*accept) return 0;
    accept_rating g = rate_media_type(accept, "application/graphql-response+json");
    accept_rating j = rate_media_type(accept, "application/json");
    int g_ok = g.specificity && g.q > 0, j_ok = j.specificity && j.q > 0;
    if (!g_ok && !j_ok) return -1;
    if (!g_ok || !j_ok) return g_ok;
    if (g.q != j.q) return g.q > j.q;
    if (g.specificity != j.specificity) return g.specificity > j.specificity;
    if (g.pos != j.pos) return g.pos < j.pos;
    return 0;
}

static int content_type_json(const char *ct) {
    if (!ct) return 0;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0) return 0;
    const char *p = ct + n;
    while (*p == ' ')
        p++;
    if (*p == 0) return 1;
    if (*p != ';') return 0;
    const char *cs = ci_find(p, "charset=");
    if (!cs) return 1;
    cs += 8;
    if (*cs == '"') cs++;
    return strncasecmp(cs, "utf-8", 5) == 0;
}

/* Returns the length of the body sent. */
static size_t send_json(http_response_t *resp, int status, int gql_mode, json_t *body) {
    char *s = jsonx_dump(body);
    size_t n = s ? strlen(s) : 0;
    http_set_body(resp, status, s ? s : strdup("{}"));
    resp->content_type = gql_mode ? CT_GQL : CT_JSON;
    return n;
}

/* A request error: {"errors":[...]} with no data. */
static void request_errors(http_response_t *resp, int status, int gql_mode, json_t *errors) {
    json_t *body = json_pack("{s:O}", "errors", errors);
    send_json(resp, status, gql_mode, body);
    json_decref(body);
}

static void request_error_msg(http_response_t *resp, int status, int gql_mode, const char *msg) {
    json_t *errors = json_pack("[{s:s}]", "message", msg);
    request_errors(resp, status, gql_mode, errors);
    json_decref(errors);
}

static json_t *gql_errors_json(const gql_errors *errs) {
    json_t *a = json_array();
    for (size_t i = 0; i < errs->count; i++) {
        json_t *e = json_pack("{s:s}", "message", errs->items[i].message);
        if (errs->items[i].nlocations) {
            json_t *locs = json_array();
            for (size_t k = 0; k < errs->items[i].nlocations; k++)
                json_array_append_new(
                    locs, json_pack("{s:i, s:i}", "line", (int)errs->items[i].locations[k].line,
                                    "column", (int)errs->items[i].locations[k].column));
            json_object_set_new(e, "locations", locs);
        }
        json_array_append_new(a, e);
    }
    return a;
}

typedef struct params {
    json_t *owned; /* GET: built object; POST: parsed body */
    const char *query, *operation_name, *document_id;
    json_t *variables;
} params;

/* Reads and type-checks the request parameters. 0, or -1 after answering 400. */
static int read_params(json_t *obj, params *p, http_response_t *resp, int gql_mode) {
    json_t *q = json_object_get(obj, "query"), *op = json_object_get(obj, "operationName");
    json_t *vars = json_object_get(obj, "variables"), *ext = json_object_get(obj, "extensions");
    json_t *doc = json_object_get(obj, "documentId");
    const char *bad = NULL;
    if (q && !json_is_string(q) && !json_is_null(q)) bad = "query must be a string";
    if (op && !json_is_string(op) && !json_is_null(op)) bad = "operationName must be a string";
    if (vars && !json_is_object(vars) && !json_is_null(vars)) bad = "variables must be an object";
    if (ext && !json_is_object(ext) && !json_is_null(ext)) bad = "extensions must be an object";
    if (doc && !json_is_string(doc) && !json_is_null(doc)) bad = "documentId must be a string";
    if (!bad && !json_is_string(q) && !json_is_string(doc))
        bad = "Missing query: send `query` (a GraphQL document) or `documentId`";
    if (bad) {
        request_error_msg(resp, 400, gql_mode, bad);
        return -1;
    }
    p->query = json_string_value(q);
    p->operation_name = json_string_value(op);
    p->document_id = json_string_value(doc);
    p->variables = json_is_object(vars) ? vars : NULL;
    return 0;
}

static int get_json_param(const http_request_t *req, json_t *obj, const char *name,
                          http_response_t *resp, int gql_mode) {
    const char *v = http_query(req, name);
    if (!v || !*v) return 0;
    json_error_t je;
    json_t *j = json_loads(v, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be JSON", name);
        request_error_msg(resp, 400, gql_mode, msg);
        return -1;
    }
    json_object_set_new(obj, name, j);
    return 0;
}

void gql_api_handle(gql_api_t *api, const http_request_t *req, http_response_t *resp) {
    int is_get = strcmp(req->method, "GET") == 0, is_post = strcmp(req->method, "POST") == 0;
    int gql_mode = negotiate_media_type(http_header(req, "Accept"));
    params p = {0};
    gql_document *doc = NULL;
    char *stored = NULL;
    json_t *result = NULL;
    api_req r = {.api = api, .env = api->env};
    gql_errors errs = {0};
    size_t trim = 0;
    if (gql_mode < 0) {
        request_error_msg(resp, 406, 0,
                          "Not acceptable: this endpoint answers application/graphql-response+json "
                          "or application/json, and the Accept header refuses both");
        return;
    }
    if (!is_get && !is_post) {
        request_error_msg(resp, 405, gql_mode, "GraphQL is served over GET and POST only");
        http_add_header(resp, "Allow", "GET, POST");
        return;
    }
    if (is_post) {
        /* CSRF: only application/json; the simple content types a form can send are refused */
        if (!content_type_json(req->content_type)) {
            request_error_msg(resp, 415, gql_mode,
                              "POST /graphql needs Content-Type: application/json");
            return;
        }
        err_t e = {0};
        if (req->body_len == 0 || jsonx_parse_object(req->body, req->body_len, &p.owned, &e)) {
            request_error_msg(resp, 400, gql_mode,
                              req->body_len == 0 ? "The request body is empty" : e.message);
            return;
        }
    } else {
        p.owned = json_object();
        static const char *const strs[] = {"query", "operationName", "documentId", NULL};
        for (const char *const *k = strs; *k; k++) {
            const char *v = http_query(req, *k);
            if (v) json_object_set_new(p.owned, *k, json_string(v));
        }
        if (get_json_param(req, p.owned, "variables", resp, gql_mode) ||
            get_json_param(req, p.owned, "extensions", resp, gql_mode))
            goto done;
    }
    if (read_params(p.owned, &p, resp, gql_mode) != 0) goto done;

    err_t ae = {0};
    if (authn_caller(api->env, req, &r.caller, &ae) != 0 && ae.status >= 500) {
        request_error_msg(resp, ae.status, gql_mode, ae.message);
        goto done;
    }
    r.clubs = json_object();
    r.relations = json_object();

    const char *text = p.query;
    int persisted = 0;
    if (p.document_id) {
        if (strncmp(p.document_id, "sha256:", 7) != 0 || strlen(p.document_id) != 71) {
            request_error_msg(resp, 400, gql_mode, "documentId must be sha256:<64 hex digits>");
            goto done;
        }
        if (text) {
            char id[72];
            sha256_id(text, strlen(text), id);
            if (strcasecmp(id, p.document_id) != 0) {
                request_error_msg(resp, 400, gql_mode, "documentId does not match the query");
                goto done;
            }
        } else {
            err_t de = {0};
            stored = load_document(&r, p.document_id, &de);
            if (!stored) {
                request_error_msg(resp, de.status == 404 ? 400 : de.status, gql_mode, de.message);
                goto done;
            }
            text = stored;
        }
        persisted = 1;
    }

    const cfg_t *cfg = api->env->cfg;
    gql_parse_opts po = {.max_bytes = cfg->http_max_body};
    gql_loc loc = {0};
    err_t pe = {0};
    doc = gql_parse(text, strlen(text), &po, &loc, &pe);
    if (!doc) {
        json_t *errors = json_pack("[{s:s, s:[{s:i, s:i}]}]", "message", pe.message, "locations",
                                   "line", (int)loc.line, "column", (int)loc.column);
        request_errors(resp, gql_mode ? 400 : 200, gql_mode, errors);
        json_decref(errors);
        goto done;
    }
    gql_validate_opts vo = {
        .max_depth = (unsigned)cfg->graphql_max_depth,
        .max_aliases = (unsigned long)cfg->graphql_max_aliases,
        .max_fields = (unsigned long)cfg->graphql_max_fields,
        .max_cost = (unsigned long)cfg->graphql_max_cost,
        .require_pagination = cfg->graphql_max_cost > 0,
    };
    if (gql_validate(api->schema, doc, &vo, &errs) != 0 || errs.count > 0) {
        json_t *errors = gql_errors_json(&errs);
        if (errs.oom || json_array_size(errors) == 0)
            json_array_append_new(errors, json_pack("{s:s}", "message", "validation failed"));
        request_errors(resp, gql_mode ? 400 : 200, gql_mode, errors);
        json_decref(errors);
        goto done;
    }
    const char *msg = NULL;
    const gql_node *op = gql_exec_operation(doc, p.operation_name, &msg);
    if (op && op->u.operation.operation != GQL_OP_QUERY) {
        if (is_get) {
            request_error_msg(resp, 405, gql_mode,
                              "Only query operations can be sent with GET; use POST");
            http_add_header(resp, "Allow", "POST");
            goto done;
        }
        if (op->u.operation.operation == GQL_OP_MUTATION &&
            cfg->graphql_require_persisted_mutations && !persisted) {
            request_error_msg(resp, gql_mode ? 400 : 200, gql_mode,
                              "Mutations must be sent as a registered persisted document "
                              "(documentId)");
            goto done;
        }
    }
    int intro =
        cfg->graphql_introspection == CFG_GQL_INTROSPECTION_ON ||
        (cfg->graphql_introspection == CFG_GQL_INTROSPECTION_SIGNED_IN && r.caller.user_id[0]) ||
        ((cfg->graphql_introspection == CFG_GQL_INTROSPECTION_ADMINS ||
          cfg->graphql_introspection == CFG_GQL_INTROSPECTION_SIGNED_IN) &&
         r.caller.network_admin);
    if (!intro && op && gql_uses_introspection(doc, op)) {
        /* a request error, like a validation error: nothing is executed */
        int anon = !r.caller.user_id[0] && !r.caller.network_admin;
        json_t *errors = json_pack(
            "[{s:s, s:{s:s}}]", "message",
            cfg->graphql_introspection == CFG_GQL_INTROSPECTION_OFF
                ? "GraphQL introspection (__schema, __type) is disabled on this server."
            : cfg->graphql_introspection == CFG_GQL_INTROSPECTION_ADMINS
                ? "GraphQL introspection (__schema, __type) is for network administrators only."
                : "GraphQL introspection (__schema, __type) is for signed-in callers only: send "
                  "an access token (Authorization: Bearer).",
            "extensions", "code", anon ? "unauthenticated" : "forbidden");
        request_errors(resp, gql_mode ? 400 : 200, gql_mode, errors);
        json_decref(errors);
        goto done;
    }
    size_t built = 0; /* the executor's estimate of the data it built */
    gql_exec_opts eo = {
        .operation_name = p.operation_name,
        .variables = p.variables,
        .ctx = &r,
        .introspection = intro ? GQL_INTROSPECTION_ON : GQL_INTROSPECTION_OFF,
        .timeout_ms = (unsigned)cfg->graphql_timeout_ms,
        .max_response_bytes = cfg->graphql_max_response_bytes,
        .built_bytes = &built,
    };
    gql_exec_status st;
    result = gql_execute(api->schema, api->resolvers, doc, &eo, &st);
    if (!result) {
        request_error_msg(resp, 500, gql_mode, "out of memory");
        goto done;
    }
    trim = send_json(resp, st == GQL_EXEC_OK || !gql_mode ? 200 : 400, gql_mode, result);
    if (built > trim) trim = built; /* a cut or null propagation dropped what was built */
done:
    gql_errors_free(&errs);
    json_decref(result);
    json_decref(r.clubs);
    json_decref(r.relations);
    if (doc) gql_document_free(doc);
    free(stored);
    json_decref(p.owned);
    if (trim >= TRIM_AFTER_BYTES) malloc_trim(0);
}
