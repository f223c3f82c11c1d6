/* test_gql_exec: the executor against graphql-js 16.15.0 as the oracle.
 * - Execution differential: tests/lib/graphql/fixtures/exec_cases.json run on the fixture schema
 *   (exec_schema.graphql, root value exec_data.json) by gql_execute with the C resolvers below
 *   and by graphql-js executeSync with the same resolvers in tests/lib/graphql/oracle-exec/
 *   exec_oracle.js: `data` and the errors (message, locations, path, in order) must be equal.
 * - Introspection round trip: graphql-js getIntrospectionQuery() executed by us, then
 *   buildClientSchema + printSchema(lexicographicSortSchema) must equal buildSchema(SDL) printed
 *   the same way, for the fixture schema and for docs/schema.graphql.
 * - Batching hooks, introspection off, operation kinds not allowed.
 * The oracle is installed with `npm ci` into build/oracle-exec when missing (needs node + npm;
 * scripts/deps.sh installs them). Needs no database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/graphql/gql_exec.h"
#include "lib/graphql/gql_parser.h"
#include "gateway/graphql_api.h"
#include "test.h"

static char root_dir[1024];

static const char *root(void) {
    if (!root_dir[0]) {
        const char *r = getenv("RECIPROCAL_TEST_ROOT");
        snprintf(root_dir, sizeof root_dir, "%s", r && *r ? r : ".");
    }
    return root_dir;
}

static char *read_file(const char *rel) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", root(), rel);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[n] = 0;
    fclose(f);
    return buf;
}

static char *run_cmd(const char *cmd) {
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 4096) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    int rc = pclose(p);
    if (buf) buf[len] = 0;
    if (rc != 0) {
        fprintf(stdout, "# command failed (%d): %s\n", rc, cmd);
        free(buf);
        return NULL;
    }
    return buf;
}

/* build/oracle-exec/node_modules from the committed package-lock.json. */
static int ensure_oracle(void) {
    char marker[2048], cmd[8192];
    snprintf(marker, sizeof marker, "%s/build/oracle-exec/node_modules/graphql-http/package.json",
             root());
    struct stat st;
    if (stat(marker, &st) == 0) return 0;
    snprintf(
        cmd, sizeof cmd,
        "set -e; d='%s/build/oracle-exec'; mkdir -p \"$d\"; cp '%s/tests/lib/graphql/oracle-exec/"
        "package.json' '%s/tests/lib/graphql/oracle-exec/package-lock.json' \"$d\"/; "
        "npm ci --prefix \"$d\" --no-audit --no-fund --silent >&2",
        root(), root(), root());
    if (system(cmd) != 0) return -1;
    return stat(marker, &st) == 0 ? 0 : -1;
}

static char *oracle(const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && NODE_PATH='%s/build/oracle-exec/node_modules' node "
             "tests/lib/graphql/oracle-exec/exec_oracle.js %s",
             root(), root(), args);
    return run_cmd(cmd);
}

/* ---- fixture resolvers (the same as exec_oracle.js) ---- */

typedef struct fixture_ctx {
    json_t *data;
    int counter;
    int prefetch_calls, prefetch_pairs, resolve_calls;
} fixture_ctx;

static int r_arg(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                 char **err) {
    (void)parent, (void)err;
    json_t *v = json_object_get(args, info->ud);
    *out = v ? json_incref(v) : NULL;
    return 0;
}

static int r_hello(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                   char **err) {
    (void)info, (void)parent, (void)err;
    json_t *n = json_object_get(args, "name");
    char buf[256];
    snprintf(buf, sizeof buf, "Hello %s", json_is_string(n) ? json_string_value(n) : "null");
    *out = json_string(buf);
    return 0;
}

static int r_node(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                  char **err) {
    (void)parent, (void)err;
    fixture_ctx *c = info->ctx;
    const char *id = json_string_value(json_object_get(args, "id"));
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(c->data, "nodes"), i, n) {
        if (id && strcmp(json_string_value(json_object_get(n, "id")), id) == 0) {
            *out = json_incref(n);
            return 0;
        }
    }
    *out = json_null();
    return 0;
}

static int r_fail(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                  char **err) {
    (void)args, (void)out;
    const char *prefix = info->ud;
    json_t *a = json_object_get(parent, "a");
    char buf[256];
    if (strcmp(prefix, "fail") == 0 || strcmp(prefix, "failNN") == 0)
        snprintf(buf, sizeof buf, "%s %s", prefix, json_is_string(a) ? json_string_value(a) : "");
    else
        snprintf(buf, sizeof buf, "%s", prefix);
    *err = strdup(buf);
    return -1;
}

static int r_incr(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                  char **err) {
    (void)parent, (void)err;
    fixture_ctx *c = info->ctx;
    c->counter += (int)json_integer_value(json_object_get(args, "by"));
    *out = json_integer(c->counter);
    return 0;
}

static const char *rt_node(const gql_resolve_info *info, json_t *value, void *ud) {
    (void)info, (void)ud;
    return json_string_value(json_object_get(value, "__typename"));
}

static gql_resolvers *fixture_resolvers(const gql_schema *s) {
    gql_resolvers *r = gql_resolvers_new(s);
    static const char *const echo[][2] = {
        {"echo", "v"},   {"int", "v"},  {"float", "v"}, {"str", "v"},
        {"bool", "v"},   {"id", "v"},   {"color", "v"}, {"colors", "v"},
        {"filter", "f"}, {"pick", "p"}, {"list", "v"},  {"req", "v"},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof echo / sizeof echo[0]; i++)
        rc |= gql_resolvers_add(r, "Query", echo[i][0], r_arg, NULL, (void *)echo[i][1]);
    rc |= gql_resolvers_add(r, "Query", "hello", r_hello, NULL, NULL);
    rc |= gql_resolvers_add(r, "Query", "node", r_node, NULL, NULL);
    rc |= gql_resolvers_add(r, "Query", "failing", r_fail, NULL, "boom");
    rc |= gql_resolvers_add(r, "Query", "failingNonNull", r_fail, NULL, "boom!");
    rc |= gql_resolvers_add(r, "Deep", "fail", r_fail, NULL, "fail");
    rc |= gql_resolvers_add(r, "Deep", "failNN", r_fail, NULL, "failNN");
    rc |= gql_resolvers_add(r, "Mutation", "incr", r_incr, NULL, NULL);
    rc |= gql_resolvers_add(r, "Mutation", "set", r_arg, NULL, "v");
    rc |= gql_resolvers_add(r, "Mutation", "fail", r_fail, NULL, "mutation failed");
    rc |= gql_resolvers_add_type(r, "Node", rt_node, NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK(gql_resolvers_add(r, "Query", "nope", r_arg, NULL, NULL) != 0);
    return r;
}

static int eq_json(json_t *a, json_t *b) {
    if (!a || !b) return a == b;
    return json_equal(a, b);
}

/* JavaScript numbers: 2.0 and 2 are the same value. */
static void normalize(json_t *v) {
    size_t i;
    json_t *x;
    const char *k;
    void *tmp;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) {
            if (json_is_real(x) && json_real_value(x) == (double)(json_int_t)json_real_value(x))
                json_array_set_new(v, i, json_integer((json_int_t)json_real_value(x)));
            else
                normalize(x);
        }
    } else if (json_is_object(v)) {
        json_object_foreach_safe(v, tmp, k, x) {
            if (json_is_real(x) && json_real_value(x) == (double)(json_int_t)json_real_value(x))
                json_object_set_new(v, k, json_integer((json_int_t)json_real_value(x)));
            else
                normalize(x);
        }
    }
}

static gql_schema *build(const char *rel) {
    char *sdl = read_file(rel);
    if (!sdl) return NULL;
    err_t e = {0};
    gql_errors errs = {0};
    gql_schema *s = gql_schema_build(sdl, strlen(sdl), &errs, &e);
    if (!s) fprintf(stdout, "# schema %s: %s\n", rel, e.message);
    gql_errors_free(&errs);
    free(sdl);
    return s;
}

static json_t *run(const gql_schema *s, const gql_resolvers *r, const char *query,
                   const json_t *vars, const char *op_name, json_t *root_value, void *ctx,
                   const gql_exec_opts *base, gql_exec_status *st) {
    err_t e = {0};
    gql_document *doc = gql_parse(query, strlen(query), NULL, NULL, &e);
    if (!doc) return json_pack("{s:s}", "parse_error", e.message);
    gql_exec_opts o = base ? *base : (gql_exec_opts){0};
    o.operation_name = op_name;
    o.variables = vars;
    o.root_value = root_value;
    o.ctx = ctx;
    json_t *res = gql_execute(s, r, doc, &o, st);
    gql_document_free(doc);
    return res;
}

static void test_differential(void) {
    REQUIRE(ensure_oracle() == 0);
    char *expected_s = oracle("exec tests/lib/graphql/fixtures/exec_schema.graphql "
                              "tests/lib/graphql/fixtures/exec_data.json "
                              "tests/lib/graphql/fixtures/exec_cases.json");
    REQUIRE(expected_s != NULL);
    json_error_t je;
    json_t *expected = json_loads(expected_s, 0, &je);
    free(expected_s);
    char *cases_s = read_file("tests/lib/graphql/fixtures/exec_cases.json");
    char *data_s = read_file("tests/lib/graphql/fixtures/exec_data.json");
    json_t *cases = cases_s ? json_loads(cases_s, 0, &je) : NULL;
    json_t *data = data_s ? json_loads(data_s, 0, &je) : NULL;
    free(cases_s), free(data_s);
    gql_schema *s = build("tests/lib/graphql/fixtures/exec_schema.graphql");
    if (!expected || !cases || !data || !s) {
        CHECK(!"fixtures load");
        goto done;
    }
    gql_resolvers *r = fixture_resolvers(s);
    CHECK_EQ_INT(json_array_size(cases), json_array_size(expected));
    size_t i, same = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        fixture_ctx ctx = {.data = data};
        gql_exec_status st;
        json_t *root_value = json_deep_copy(data);
        json_t *got = run(
            s, r, json_string_value(json_object_get(c, "query")), json_object_get(c, "variables"),
            json_string_value(json_object_get(c, "operationName")), root_value, &ctx, NULL, &st);
        json_decref(root_value);
        json_t *want = json_deep_copy(json_array_get(expected, i));
        normalize(got);
        normalize(want);
        /* graphql-js puts request errors without data; compare the members */
        int ok = got && eq_json(json_object_get(got, "data"), json_object_get(want, "data")) &&
                 eq_json(json_object_get(got, "errors"), json_object_get(want, "errors"));
        if (ok) {
            same++;
        } else {
            char *g = got ? json_dumps(got, JSON_COMPACT) : NULL;
            char *w = json_dumps(want, JSON_COMPACT);
            fprintf(stdout, "# case %zu \"%s\"\n#   ours:       %s\n#   graphql-js: %s\n", i,
                    json_string_value(json_object_get(c, "name")), g ? g : "(null)", w);
            free(g), free(w);
        }
        CHECK(ok);
        json_decref(got);
        json_decref(want);
    }
    fprintf(stdout, "# execution differential: %zu of %zu cases equal to graphql-js\n", same,
            json_array_size(cases));
    gql_resolvers_free(r);
done:
    gql_schema_free(s);
    json_decref(expected), json_decref(cases), json_decref(data);
}

static void roundtrip(const char *sdl_rel) {
    REQUIRE(ensure_oracle() == 0);
    char *q = oracle("introspection-query");
    REQUIRE(q != NULL);
    gql_schema *s = build(sdl_rel);
    if (!s) {
        free(q);
        CHECK(!"schema builds");
        return;
    }
    gql_exec_status st;
    json_t *res = run(s, NULL, q, NULL, NULL, NULL, NULL, NULL, &st);
    free(q);
    CHECK_EQ_INT(st, GQL_EXEC_OK);
    char tmp[] = "/tmp/gql_introspection_XXXXXX";
    int fd = mkstemp(tmp);
    REQUIRE(fd >= 0);
    close(fd);
    json_dump_file(res, tmp, JSON_COMPACT);
    json_decref(res);
    char args[4096];
    snprintf(args, sizeof args, "roundtrip %s %s", sdl_rel, tmp);
    char *out = oracle(args);
    unlink(tmp);
    CHECK(out && strcmp(out, "OK") == 0);
    if (out && strcmp(out, "OK") != 0) fprintf(stdout, "# %s: %.4000s\n", sdl_rel, out);
    free(out);
    gql_schema_free(s);
}

static void test_roundtrip_fixture(void) {
    roundtrip("tests/lib/graphql/fixtures/exec_schema.graphql");
}

static void test_roundtrip_api_schema(void) {
    roundtrip("docs/schema.graphql");
}

/* ---- raw introspection: the result itself (order, descriptions) equals graphql-js's ---- */

/* Prints the first difference between a and b (path), 1 when equal. */
static int first_diff(const json_t *a, const json_t *b, char *path, size_t cap) {
    if (json_equal(a, b)) return 1;
    size_t n = strlen(path);
    if (json_is_object(a) && json_is_object(b)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            snprintf(path + n, cap - n, ".%s", k);
            if (!first_diff(v, json_object_get(b, k), path, cap)) return 0;
        }
        path[n] = 0;
    } else if (json_is_array(a) && json_is_array(b)) {
        for (size_t i = 0; i < json_array_size(a) && i < json_array_size(b); i++) {
            snprintf(path + n, cap - n, "[%zu]", i);
            if (!first_diff(json_array_get(a, i), json_array_get(b, i), path, cap)) return 0;
        }
        path[n] = 0;
    }
    char *x = a ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *y = b ? json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    fprintf(stdout, "# first difference at %s\n#   ours:       %.300s\n#   graphql-js: %.300s\n",
            path, x ? x : "(none)", y ? y : "(none)");
    free(x), free(y);
    return 0;
}

static void introspection_raw(const char *sdl_rel, const char *expected_text) {
    char *q = oracle("introspection-query");
    REQUIRE(q != NULL);
    gql_schema *s = build(sdl_rel);
    json_error_t je;
    json_t *want = expected_text ? json_loads(expected_text, 0, &je) : NULL;
    if (!s || !want) {
        CHECK(!"schema and expected result load");
    } else {
        gql_exec_status st;
        json_t *got = run(s, NULL, q, NULL, NULL, NULL, NULL, NULL, &st);
        CHECK_EQ_INT(st, GQL_EXEC_OK);
        char path[4096] = "";
        CHECK(first_diff(got, want, path, sizeof path));
        json_decref(got);
    }
    json_decref(want);
    gql_schema_free(s);
    free(q);
}

/* The committed fixture exec_introspection.json (exec_oracle.js introspection-raw) and, live,
 * docs/schema.graphql: __schema.types in graphql-js's order, the specified scalars' descriptions,
 * directives in graphql-js's order, every field as graphql-js answers it. */
static void test_introspection_raw(void) {
    REQUIRE(ensure_oracle() == 0);
    char *fixture = read_file("tests/lib/graphql/fixtures/exec_introspection.json");
    introspection_raw("tests/lib/graphql/fixtures/exec_schema.graphql", fixture);
    free(fixture);
    char *live = oracle("introspection-raw docs/schema.graphql");
    introspection_raw("docs/schema.graphql", live);
    free(live);
}

/* ---- runtime limits: execution deadline, response size ---- */

static int r_slow_hello(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                        char **err) {
    (void)info, (void)parent, (void)args, (void)err;
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
    *out = json_string("slow");
    return 0;
}

static void test_deadline(void) {
    gql_schema *s = build("tests/lib/graphql/fixtures/exec_schema.graphql");
    REQUIRE(s != NULL);
    gql_resolvers *r = gql_resolvers_new(s);
    CHECK_EQ_INT(gql_resolvers_add(r, "Query", "hello", r_slow_hello, NULL, NULL), 0);
    gql_exec_opts o = {.timeout_ms = 50};
    gql_exec_status st;
    /* 10 x 20 ms of resolvers with a 50 ms deadline: the first fields run, then the cut */
    json_t *res = run(s, r,
                      "{ a: hello b: hello c: hello d: hello e: hello f: hello g: hello h: hello "
                      "i: hello j: hello }",
                      NULL, NULL, NULL, NULL, &o, &st);
    CHECK_EQ_INT(st, GQL_EXEC_OK);
    json_t *data = json_object_get(res, "data"), *errors = json_object_get(res, "errors");
    CHECK_STR(json_string_value(json_object_get(data, "a")), "slow");
    CHECK(json_is_null(json_object_get(data, "j")));
    CHECK_EQ_INT(json_array_size(errors), 1);
    json_t *e = json_array_get(errors, 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(e, "extensions"), "code")),
              "deadline_exceeded");
    const char *cut = json_string_value(json_array_get(json_object_get(e, "path"), 0));
    CHECK(cut && json_is_null(json_object_get(data, cut)));
    CHECK(cut && strcmp(cut, "b") >= 0 && strcmp(cut, "e") <= 0);
    CHECK(strstr(json_string_value(json_object_get(e, "message")), "50 ms") != NULL);
    json_decref(res);
    /* no deadline: everything runs */
    o.timeout_ms = 0;
    res = run(s, r, "{ a: hello b: hello c: hello }", NULL, NULL, NULL, NULL, &o, &st);
    CHECK(json_object_get(res, "errors") == NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(res, "data"), "c")), "slow");
    json_decref(res);
    gql_resolvers_free(r);
    gql_schema_free(s);
}

static void test_response_size_limit(void) {
    gql_schema *s = build("tests/lib/graphql/fixtures/exec_schema.graphql");
    REQUIRE(s != NULL);
    const char *q = "{ a: __schema { types { name fields { name } } } b: __schema { types { name "
                    "fields { name } } } }";
    gql_exec_opts o = {0};
    gql_exec_status st;
    json_t *res = run(s, NULL, q, NULL, NULL, NULL, NULL, &o, &st);
    char *full = json_dumps(res, JSON_COMPACT);
    size_t full_len = full ? strlen(full) : 0;
    free(full);
    json_decref(res);
    CHECK(full_len > 2000);
    o.max_response_bytes = full_len / 2;
    res = run(s, NULL, q, NULL, NULL, NULL, NULL, &o, &st);
    CHECK_EQ_INT(st, GQL_EXEC_OK);
    CHECK(json_is_null(json_object_get(res, "data")));
    json_t *errors = json_object_get(res, "errors");
    CHECK_EQ_INT(json_array_size(errors), 1);
    json_t *e = json_array_get(errors, 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(e, "extensions"), "code")),
              "response_too_large");
    CHECK(json_array_size(json_object_get(e, "path")) > 0); /* where the limit was crossed */
    json_decref(res);
    /* the estimate stays close to the real size: a limit just above it passes */
    o.max_response_bytes = full_len + full_len / 10;
    res = run(s, NULL, q, NULL, NULL, NULL, NULL, &o, &st);
    CHECK(json_object_get(res, "errors") == NULL);
    CHECK(json_is_object(json_object_get(res, "data")));
    json_decref(res);
    gql_schema_free(s);
}

/* ---- batching hooks ---- */

static void pf_count(const gql_resolve_info *info, json_t *calls) {
    fixture_ctx *c = info->ctx;
    c->prefetch_calls++;
    c->prefetch_pairs += (int)json_array_size(calls);
}

static int r_name_counted(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                          char **err) {
    (void)args, (void)err;
    fixture_ctx *c = info->ctx;
    c->resolve_calls++;
    json_t *n = json_object_get(parent, "name");
    *out = n ? json_incref(n) : NULL;
    return 0;
}

static int r_fail_coded(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                        char **err) {
    (void)parent, (void)args, (void)out;
    gql_resolve_error_code(info, "forbidden");
    *err = strdup("not for you");
    return -1;
}

static void test_prefetch(void) {
    gql_schema *s = build("tests/lib/graphql/fixtures/exec_schema.graphql");
    REQUIRE(s != NULL);
    char *data_s = read_file("tests/lib/graphql/fixtures/exec_data.json");
    json_error_t je;
    json_t *data = json_loads(data_s, 0, &je);
    free(data_s);
    gql_resolvers *r = gql_resolvers_new(s);
    CHECK_EQ_INT(gql_resolvers_add(r, "Person", "name", r_name_counted, pf_count, NULL), 0);
    CHECK_EQ_INT(gql_resolvers_add(r, "Query", "hello", r_hello, pf_count, NULL), 0);
    CHECK_EQ_INT(gql_resolvers_add(r, "Mutation", "set", r_arg, pf_count, "v"), 0);
    fixture_ctx ctx = {.data = data};
    gql_exec_status st;
    json_t *res = run(s, r, "{ people { name n2: name } }", NULL, NULL, data, &ctx, NULL, &st);
    /* one hook call for the list: 3 people x 2 aliases; the resolver still runs per field */
    CHECK_EQ_INT(ctx.prefetch_calls, 1);
    CHECK_EQ_INT(ctx.prefetch_pairs, 6);
    CHECK_EQ_INT(ctx.resolve_calls, 6);
    CHECK_STR(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(res, "data"), "people"), 1), "n2")),
        "Bob");
    json_decref(res);
    ctx = (fixture_ctx){.data = data};
    res = run(s, r, "{ a: hello b: hello(name: \"x\") }", NULL, NULL, data, &ctx, NULL, &st);
    CHECK_EQ_INT(ctx.prefetch_calls, 1);
    CHECK_EQ_INT(ctx.prefetch_pairs, 2);
    json_decref(res);
    ctx = (fixture_ctx){.data = data};
    res = run(s, r, "mutation { a: set(v: \"1\") b: set(v: \"2\") }", NULL, NULL, data, &ctx, NULL,
              &st);
    CHECK_EQ_INT(ctx.prefetch_calls, 0); /* mutation root fields run serially, unbatched */
    json_decref(res);
    gql_resolvers_free(r);
    /* a list of a union: the items are grouped by runtime type, each group prefetched once */
    r = gql_resolvers_new(s);
    CHECK_EQ_INT(gql_resolvers_add(r, "Cat", "name", r_name_counted, pf_count, NULL), 0);
    CHECK_EQ_INT(gql_resolvers_add(r, "Dog", "name", r_name_counted, pf_count, NULL), 0);
    CHECK_EQ_INT(gql_resolvers_add(r, "Query", "failing", r_fail_coded, NULL, NULL), 0);
    ctx = (fixture_ctx){.data = data};
    res = run(s, r, "{ pets { ... on Cat { name n: name } ... on Dog { name } } failing }", NULL,
              NULL, data, &ctx, NULL, &st);
    CHECK_EQ_INT(ctx.prefetch_calls, 2); /* Cat group (2 items x 2 aliases), Dog alone (1) */
    CHECK_EQ_INT(ctx.prefetch_pairs, 5);
    CHECK_EQ_INT(ctx.resolve_calls, 5);
    CHECK_STR(json_string_value(json_object_get(
                  json_array_get(json_object_get(json_object_get(res, "data"), "pets"), 2), "n")),
              "Nine");
    /* a resolver's error code becomes extensions.code */
    json_t *fe = json_array_get(json_object_get(res, "errors"), 0);
    CHECK_STR(json_string_value(json_object_get(fe, "message")), "not for you");
    CHECK_STR(json_string_value(json_object_get(json_object_get(fe, "extensions"), "code")),
              "forbidden");
    CHECK_STR(json_string_value(json_array_get(json_object_get(fe, "path"), 0)), "failing");
    json_decref(res);
    gql_resolvers_free(r);
    json_decref(data);
    gql_schema_free(s);
}

static void test_introspection_off_and_kinds(void) {
    gql_schema *s = build("tests/lib/graphql/fixtures/exec_schema.graphql");
    REQUIRE(s != NULL);
    gql_exec_opts o = {.introspection = GQL_INTROSPECTION_OFF};
    gql_exec_status st;
    json_t *res = run(s, NULL, "{ __schema { types { name } } }", NULL, NULL, NULL, NULL, &o, &st);
    CHECK_EQ_INT(st, GQL_EXEC_REQUEST_ERROR);
    CHECK(json_object_get(res, "data") == NULL);
    json_decref(res);
    res = run(s, NULL, "query { ...F } fragment F on Query { __type(name: \"Dog\") { name } }",
              NULL, NULL, NULL, NULL, &o, &st);
    CHECK_EQ_INT(st, GQL_EXEC_REQUEST_ERROR);
    json_decref(res);
    /* through a chain of fragments (each visited once, however often it is spread) */
    res = run(s, NULL,
              "query { ...A } fragment A on Query { ...B ...B ... { ...B } } "
              "fragment B on Query { ... on Query { ...C } } "
              "fragment C on Query { __schema { queryType { name } } }",
              NULL, NULL, NULL, NULL, &o, &st);
    CHECK_EQ_INT(st, GQL_EXEC_REQUEST_ERROR);
    CHECK(json_object_get(res, "data") == NULL);
    json_decref(res);
    res = run(s, NULL, "{ __typename }", NULL, NULL, NULL, NULL, &o, &st);
    CHECK_EQ_INT(st, GQL_EXEC_OK);
    CHECK_STR(json_string_value(json_object_get(json_object_get(res, "data"), "__typename")),
              "Query");
    json_decref(res);
    o = (gql_exec_opts){.allowed_operations = 1u << GQL_OP_QUERY};
    res = run(s, NULL, "mutation { __typename }", NULL, NULL, NULL, NULL, &o, &st);
    CHECK_EQ_INT(st, GQL_EXEC_NOT_ALLOWED);
    json_decref(res);
    gql_schema_free(s);
}

/* The embedded SDL (build/gen/graphql_schema_sdl.c, made by the Makefile) must be
 * docs/schema.graphql. */
static void test_embedded_sdl_current(void) {
    char *sdl = read_file("docs/schema.graphql");
    REQUIRE(sdl != NULL);
    CHECK_EQ_INT(graphql_schema_sdl_len, strlen(sdl));
    CHECK(strcmp(graphql_schema_sdl, sdl) == 0);
    if (strcmp(graphql_schema_sdl, sdl) != 0)
        fprintf(stdout, "# regenerate: tools/embed_text.sh graphql_schema_sdl docs/schema.graphql "
                        "> build/gen/graphql_schema_sdl.c (make does this)\n");
    free(sdl);
}

int main(void) {
    RUN(test_embedded_sdl_current);
    RUN(test_differential);
    RUN(test_roundtrip_fixture);
    RUN(test_roundtrip_api_schema);
    RUN(test_prefetch);
    RUN(test_introspection_off_and_kinds);
    RUN(test_introspection_raw);
    RUN(test_deadline);
    RUN(test_response_size_limit);
    TEST_DONE();
}
