/* graphql_bind: see graphql_bind.h. */
#include "gateway/graphql_bind.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"

int gqlb_call(api_req *r, const char *module, const char *op_name, json_t *input, json_t **output,
              err_t *e) {
    int status = 0;
    *output = NULL;
    metrics_counter_add("graphql_operation_calls_total", (const char *[]){op_name, NULL}, 1);
    /* svc_dispatch in process, svc_call_remote over NATS: the same path as REST */
    return svc_call(r->env, module, op_name, &r->caller, input, &status, output, e);
}

static const char *code_of(const err_t *e) {
    if (e->code[0]) return e->code;
    switch (e->status) {
    case 400:
        return "bad_request";
    case 401:
        return "unauthenticated";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 409:
        return "conflict";
    case 422:
        return "invalid_field";
    default:
        return "internal";
    }
}

int gqlb_fail(const gql_resolve_info *info, const err_t *e, char **error) {
    gql_resolve_error_code(info, code_of(e));
    *error = strdup(e->message[0] ? e->message : "operation failed");
    return -1;
}

void gqlb_snake(const char *in, char *out, size_t cap) {
    size_t o = 0;
    for (; *in && o + 2 < cap; in++) {
        if (isupper((unsigned char)*in)) {
            out[o++] = '_';
            out[o++] = (char)tolower((unsigned char)*in);
        } else {
            out[o++] = *in;
        }
    }
    out[o] = 0;
}

void gqlb_camel(const char *in, char *out, size_t cap) {
    size_t o = 0;
    for (; *in && o + 1 < cap; in++) {
        if (*in == '_' && in[1]) {
            in++;
            out[o++] = (char)toupper((unsigned char)*in);
        } else {
            out[o++] = *in;
        }
    }
    out[o] = 0;
}

static json_t *lower_json(json_t *v) {
    if (json_is_string(v)) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
        for (char *p = buf; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        return json_string(buf);
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, lower_json(x));
        return a;
    }
    return json_incref(v);
}

json_t *gqlb_upper(json_t *v) {
    if (json_is_string(v)) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
        for (char *p = buf; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        return json_string(buf);
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, gqlb_upper(x));
        return a;
    }
    return v ? json_incref(v) : NULL;
}

static int is_key(const char *k, const char *const *set) {
    for (; *set; set++)
        if (strcmp(k, *set) == 0) return 1;
    return 0;
}

json_t *gqlb_rest_input(json_t *in) {
    static const char *const enum_keys[] = {"status", "facility", "facilities", "relationship",
                                            NULL};
    if (json_is_object(in)) {
        json_t *o = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(in, k, v) {
            char key[96];
            gqlb_snake(k, key, sizeof key);
            json_object_set_new(o, key,
                                is_key(key, enum_keys) ? lower_json(v) : gqlb_rest_input(v));
        }
        return o;
    }
    if (json_is_array(in)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(in, i, x) json_array_append_new(a, gqlb_rest_input(x));
        return a;
    }
    return json_incref(in);
}

json_t *gqlb_output(json_t *rest) {
    static const char *const enum_keys[] = {"status", "relationship", "from", "to", NULL};
    if (json_is_object(rest)) {
        json_t *o = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(rest, k, v) {
            char key[96];
            gqlb_camel(k, key, sizeof key);
            json_object_set_new(o, key, is_key(k, enum_keys) ? gqlb_upper(v) : gqlb_output(v));
        }
        return o;
    }
    if (json_is_array(rest)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(rest, i, x) json_array_append_new(a, gqlb_output(x));
        return a;
    }
    return rest ? json_incref(rest) : NULL;
}

int gqlb_mutation(const gql_resolve_info *info, const char *module, const char *op, json_t *input,
                  const char *key, json_t *(*convert)(json_t *), json_t **out, char **error) {
    json_t *output = NULL;
    err_t e = {0};
    int rc = gqlb_call(info->ctx, module, op, input, &output, &e);
    if (rc == 0) {
        json_t *v = !output ? json_null() : convert ? convert(output) : json_incref(output);
        json_decref(output);
        *out = json_pack("{s:o, s:[]}", key, v ? v : json_null(), "userErrors");
        return 0;
    }
    if (e.status == 400 || e.status == 404 || e.status == 409 || e.status == 422) {
        char field[128];
        gqlb_camel(e.field, field, sizeof field);
        *out = json_pack("{s:n, s:[{s:o, s:s, s:s}]}", key, "userErrors", "field",
                         field[0] ? json_string(field) : json_null(), "message", e.message, "code",
                         code_of(&e));
        return 0;
    }
    return gqlb_fail(info, &e, error);
}

/* module.op's output (new reference) or NULL after gqlb_fail set *error. */
static json_t *query_output(const gql_resolve_info *info, const char *module, const char *op,
                            json_t *input, char **error) {
    json_t *output = NULL;
    err_t e = {0};
    if (gqlb_call(info->ctx, module, op, input, &output, &e) != 0) {
        gqlb_fail(info, &e, error);
        return NULL;
    }
    return output ? output : json_null();
}

int gqlb_query(const gql_resolve_info *info, const char *module, const char *op, json_t *input,
               const char *key, json_t *(*convert)(json_t *), json_t **out, char **error) {
    json_t *output = query_output(info, module, op, input, error);
    if (!output) return -1;
    json_t *v = key ? json_object_get(output, key) : output;
    *out = convert ? convert(v) : gqlb_output(v);
    json_decref(output);
    return 0;
}

int gqlb_list(const gql_resolve_info *info, const char *module, const char *op, json_t *input,
              json_t *(*node_of)(json_t *), json_t **out, char **error) {
    json_t *output = query_output(info, module, op, input, error);
    if (!output) return -1;
    *out = gqlb_connection(output, node_of);
    json_decref(output);
    return 0;
}

json_t *gqlb_page_input(const gql_resolve_info *info, json_t *args, char **error) {
    json_t *input = json_object();
    if (gqlb_first(info, args, input, error) != 0) {
        json_decref(input);
        return NULL;
    }
    gqlb_set_str(input, "after", json_object_get(args, "after"));
    return input;
}

void gqlb_set_str(json_t *input, const char *key, json_t *v) {
    if (json_is_string(v)) json_object_set(input, key, v);
}

int gqlb_parent_or_get(const gql_resolve_info *info, json_t *parent, const char *key,
                       const char *module, const char *op, json_t **out, char **error) {
    json_t *have = json_object_get(parent, key);
    if (json_is_array(have)) {
        *out = json_incref(have);
        return 0;
    }
    json_t *input = json_object();
    gqlb_set_str(input, "id", json_object_get(parent, "id"));
    int rc = gqlb_query(info, module, op, input, key, NULL, out, error);
    json_decref(input);
    return rc;
}

void gqlb_set_enum(json_t *input, const char *key, json_t *v) {
    const char *s = json_string_value(v);
    if (!s) return;
    char buf[32];
    size_t o = 0;
    for (; s[o] && o + 1 < sizeof buf; o++)
        buf[o] = (char)tolower((unsigned char)s[o]);
    buf[o] = 0;
    json_object_set_new(input, key, json_string(buf));
}

json_t *gqlb_mutation_input(json_t *args) {
    json_t *input = gqlb_rest_input(json_object_get(args, "input"));
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(input, tmp, k, v) { /* absent = default, as over REST */
        if (json_is_null(v)) json_object_del(input, k);
    }
    return input;
}

/* A row of gqlb_add_mutations (info->ud). */
static int r_table_mutation(const gql_resolve_info *info, json_t *parent, json_t *args,
                            json_t **out, char **error) {
    (void)parent;
    const gqlb_mutation_row_t *m = info->ud;
    json_t *input = gqlb_mutation_input(args);
    if (m->prepare) m->prepare(input);
    int rc = gqlb_mutation(info, m->module, m->op, input, m->key,
                           m->convert ? m->convert : gqlb_output, out, error);
    json_decref(input);
    return rc;
}

int gqlb_add_mutations(gql_resolvers *rs, const gqlb_mutation_row_t *rows, size_t n) {
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        rc |= gql_resolvers_add(rs, "Mutation", rows[i].field, r_table_mutation, NULL,
                                (void *)&rows[i]);
    return rc;
}

json_t *gqlb_connection(json_t *output, json_t *(*node_of)(json_t *)) {
    json_t *edges = json_array(), *cursors = json_object_get(output, "cursors");
    const char *end = NULL;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(output, "items"), i, item) {
        const char *c = json_string_value(json_array_get(cursors, i));
        end = c ? c : "";
        json_t *node = node_of ? node_of(item) : json_incref(item);
        json_array_append_new(
            edges, json_pack("{s:s, s:o}", "cursor", end, "node", node ? node : json_null()));
    }
    int more = json_is_string(json_object_get(output, "next_cursor"));
    return json_pack("{s:o, s:{s:b, s:o}}", "edges", edges, "pageInfo", "hasNextPage", more,
                     "endCursor", end ? json_string(end) : json_null());
}

int gqlb_club(api_req *r, const char *id, json_t **out, err_t *e) {
    json_t *cached = id ? json_object_get(r->clubs, id) : NULL;
    if (cached) {
        *out = json_incref(cached);
        return 0;
    }
    json_t *input = json_pack("{s:s}", "id", id ? id : ""), *output = NULL;
    int rc = gqlb_call(r, "member", "get_club", input, &output, e);
    json_decref(input);
    if (rc != 0) {
        if (e->status == 404 || e->status == 400 || e->status == 422) {
            *out = json_null(); /* no such club (or not a valid id): null, not an error */
            return 0;
        }
        return -1;
    }
    if (id) json_object_set(r->clubs, id, output);
    *out = output;
    return 0;
}

void gqlb_prefetch_clubs(api_req *r, json_t *ids) {
    json_t *want = json_array();
    size_t i, k;
    json_t *c, *x;
    json_array_foreach(ids, i, c) {
        const char *id = json_string_value(c);
        if (!id || json_object_get(r->clubs, id)) continue;
        int dup = 0;
        json_array_foreach(want, k, x) if (strcmp(json_string_value(x), id) == 0) dup = 1;
        if (!dup && json_array_size(want) < 100) json_array_append_new(want, json_string(id));
    }
    if (json_array_size(want) > 1) {
        json_t *input = json_pack("{s:O}", "ids", want), *output = NULL;
        err_t e = {0};
        if (gqlb_call(r, "member", "get_clubs_by_ids", input, &output, &e) == 0) {
            json_t *items = json_object_get(output, "items");
            json_array_foreach(want, i, c) {
                json_t *club = json_array_get(items, i);
                json_object_set(r->clubs, json_string_value(c), club ? club : json_null());
            }
        }
        json_decref(output);
        json_decref(input);
    }
    json_decref(want);
}

json_t *gqlb_batch_ids(const gql_resolve_info *info, json_t *calls, const char *id_key,
                       const char *club_key, gqlb_batch_skip_fn skip, const char **club) {
    json_t *ids = json_array(), *c;
    size_t i;
    *club = NULL;
    json_array_foreach(calls, i, c) {
        json_t *parent = json_array_get(c, 0);
        const char *id = json_string_value(json_object_get(parent, id_key));
        const char *pc = json_string_value(json_object_get(parent, club_key));
        if (!id || !pc || skip(info, parent, id, pc)) continue;
        if (!*club) *club = pc;
        if (strcmp(pc, *club) == 0 && json_array_size(ids) < 100)
            json_array_append_new(ids, json_string(id));
    }
    return ids;
}

json_t *gqlb_member_relations(api_req *r, json_t *ids, const char *club) {
    if (json_array_size(ids) < 2) return NULL;
    json_t *input = json_pack("{s:O}", "ids", ids), *output = NULL;
    if (club) json_object_set_new(input, "club_id", json_string(club));
    err_t e = {0};
    if (gqlb_call(r, "member", "member_relations_by_ids", input, &output, &e) != 0) {
        json_decref(output);
        output = NULL;
    }
    json_decref(input);
    return output;
}

json_t *gqlb_relations_cache(api_req *r, const char *key) {
    json_t *c = json_object_get(r->relations, key);
    if (!c) {
        c = json_object();
        json_object_set_new(r->relations, key, c);
    }
    return c;
}

int gqlb_first(const gql_resolve_info *info, json_t *args, json_t *input, char **error) {
    json_t *first = json_object_get(args, "first");
    if (!json_is_integer(first)) return 0;
    long long n = json_integer_value(first);
    if (n < 1 || n > 100) {
        gql_resolve_error_code(info, "invalid_field");
        *error = strdup("first must be from 1 to 100");
        return -1;
    }
    json_object_set_new(input, "limit", json_integer(n));
    return 0;
}

void gqlb_prefetch_parent_clubs(const gql_resolve_info *info, json_t *calls) {
    json_t *ids = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c) {
        json_t *id = json_object_get(json_array_get(c, 0), info->ud);
        if (json_is_string(id)) json_array_append(ids, id);
    }
    gqlb_prefetch_clubs(info->ctx, ids);
    json_decref(ids);
}

int gqlb_parent_club(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                     char **error) {
    (void)args;
    const char *id = json_string_value(json_object_get(parent, info->ud));
    if (!id) {
        *out = json_null();
        return 0;
    }
    err_t e = {0};
    if (gqlb_club(info->ctx, id, out, &e) != 0) return gqlb_fail(info, &e, error);
    return 0;
}
