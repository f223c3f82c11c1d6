/* Access matrix (issue 10 step 3): every operation of every registered service, with the access
 * rule its row declares (core/service.h) and the status each kind of caller gets. The rows
 * (below: where they live) must list every operation svc_registry holds (a new operation without
 * a row fails the test) and agree with each op table row's .access and .permission. Routed
 * operations are called over HTTP on the real binary as five callers: anonymous, a member of club A
 * (role member, linked to a member record of A), club B's administrator, club A's administrator
 * (its staff) and club A's treasurer (role club_treasurer, issue 13); operations without a REST
 * route are checked in-process through svc_access_check, the rule svc_dispatch applies before any
 * input is read. A valid-looking input is not the point: an admitted caller may get a validation
 * (400/422) or not-found (404) answer, a refused one must get 401/403 (or 404 where the record is
 * not the caller's), and never a validation answer (authorise -> validate -> handle). Also:
 * svc_check_module refuses a row without a rule. The rows live beside each service's tests:
 * tests/services/<name>/access_matrix (<name> the module's runtime name; read at start, one row a
 * line: op access permission|- id anon member other staff treasurer, with id -|none|club|self and a
 * status or - for "no route"; # starts a comment, on its own line or after a row), so adding a
 * service adds its own file: docs/adding-a-service.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/service.h"
#include "services/auth/rbac.h"
#include "support/e2e.h"
#include "test.h"

/* placeholders of {id} in a route: club A, the member record of A's member user, none */
enum { ID_NONE = 0, ID_CLUB, ID_SELF };
#define NO_ROUTE 0 /* expected value for "admitted" by svc_access_check (no REST route) */

typedef struct row {
    const char *service, *op;
    svc_access_t access;
    const char *permission;
    int id;                                    /* what {id} stands for */
    int anon, member, other, staff, treasurer; /* expected statuses */
} row_t;

/* the rows of every registry service's tests/services/<name>/access_matrix file (load_rows) */
static row_t *g_rows;
static size_t N_ROWS;
static char **g_strs; /* the file rows' strings, freed by free_rows */
static size_t g_n_strs;

static const char *g_pw = "access matrix passphrase 42 lighthouse";
static const char *g_none = "00000000-0000-4000-8000-000000000001";
static e2e_proc_t g_proc;
static char g_club_a[64], g_club_b[64], g_slug_a[64], g_slug_b[64], g_self[64];
static int g_started;
static char g_member_user[64], g_tok_member[4096], g_tok_other[4096], g_tok_staff[4096],
    g_tok_treasurer[4096];

static const char *keep(const char *v) {
    char **a = realloc(g_strs, (g_n_strs + 1) * sizeof *a);
    char *d = strdup(v);
    if (!a || !d) abort();
    g_strs = a;
    return g_strs[g_n_strs++] = d;
}

static int parse_status(const char *v) {
    return strcmp(v, "-") == 0 ? NO_ROUTE : atoi(v);
}

/* One line "op access permission id anon member other staff treasurer" of service's file into
 * *r. */
static int parse_row(const char *service, const char *line, row_t *r) {
    char op[64], access[32], perm[64], id[16], st[5][16];
    if (sscanf(line, "%63s %31s %63s %15s %15s %15s %15s %15s %15s", op, access, perm, id, st[0],
               st[1], st[2], st[3], st[4]) != 9)
        return -1;
    memset(r, 0, sizeof *r);
    for (int a = SVC_PUBLIC; a <= SVC_INTERNAL; a++)
        if (strcmp(access, svc_access_name((svc_access_t)a)) == 0) r->access = (svc_access_t)a;
    r->service = keep(service);
    r->op = keep(op);
    r->permission = strcmp(perm, "-") == 0 ? NULL : keep(perm);
    r->id = strcmp(id, "club") == 0 ? ID_CLUB : strcmp(id, "self") == 0 ? ID_SELF : ID_NONE;
    r->anon = parse_status(st[0]);
    r->member = parse_status(st[1]);
    r->other = parse_status(st[2]);
    r->staff = parse_status(st[3]);
    r->treasurer = parse_status(st[4]);
    return r->access == SVC_ACCESS_UNSET ? -1 : 0;
}

/* g_rows = each registry service's tests/services/<name>/access_matrix (<name> the module's
 * runtime name); a service without the file has no rows, which test_table_lists_every_operation
 * reports op by op. */
static void load_rows(void) {
    const char *root = getenv("RECIPROCAL_TEST_ROOT");
    size_t cap = 128;
    g_rows = calloc(cap, sizeof *g_rows);
    if (!g_rows) abort();
    N_ROWS = 0;
    for (const svc_module_t *const *m = svc_registry; *m; m++) {
        char path[512], line[512];
        snprintf(path, sizeof path, "%s/tests/services/%s/access_matrix", root ? root : ".",
                 (*m)->name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        while (fgets(line, sizeof line, f)) {
            char *hash = strchr(line, '#');
            if (hash) *hash = 0; /* a comment, on its own line or after a row */
            const char *p = line + strspn(line, " \t\r\n");
            if (!*p) continue;
            if (N_ROWS == cap) {
                row_t *g = realloc(g_rows, (cap *= 2) * sizeof *g);
                if (!g) abort();
                g_rows = g;
            }
            if (parse_row((*m)->name, p, &g_rows[N_ROWS]) != 0) {
                printf("#   %s: bad row: %s\n", path, line);
                CHECK(0);
                continue;
            }
            N_ROWS++;
        }
        fclose(f);
    }
}

static void free_rows(void) {
    for (size_t i = 0; i < g_n_strs; i++)
        free(g_strs[i]);
    free(g_strs);
    free(g_rows);
}

static const row_t *find_row(const char *service, const char *op) {
    for (size_t i = 0; i < N_ROWS; i++)
        if (!strcmp(g_rows[i].service, service) && !strcmp(g_rows[i].op, op)) return &g_rows[i];
    return NULL;
}

/* ---- the table against the registry (no server needed) ---- */

static void test_table_lists_every_operation(void) {
    size_t n_ops = 0;
    for (const svc_module_t *const *m = svc_registry; *m; m++) {
        for (size_t i = 0; i < (*m)->n_ops; i++, n_ops++) {
            const svc_op_t *op = &(*m)->ops[i];
            const row_t *r = find_row((*m)->name, op->name);
            if (!r) {
                printf("#   %s.%s is not in the access matrix: add its row\n", (*m)->name,
                       op->name);
                CHECK(r != NULL);
                continue;
            }
            if (r->access != op->access || !r->permission != !op->permission ||
                (r->permission && strcmp(r->permission, op->permission) != 0)) {
                printf("#   %s.%s: the matrix says %s %s, the table %s %s\n", (*m)->name, op->name,
                       svc_access_name(r->access), r->permission ? r->permission : "",
                       svc_access_name(op->access), op->permission ? op->permission : "");
                CHECK(0);
            }
        }
    }
    CHECK_EQ_INT((int)n_ops, (int)N_ROWS); /* and no row for an operation that is gone */
    err_t e = {0};
    CHECK_EQ_INT(svc_check_registry(&e), 0);
}

static int noop_handle(const svc_call_t *c, json_t *in, json_t **out, err_t *e) {
    (void)c, (void)in, (void)e;
    *out = json_object();
    return 0;
}

/* A row without a rule, or with a rule that contradicts the row, fails the startup check; the
 * dispatcher refuses such a row too (500), never runs it as public. */
static void test_missing_rule_fails_loudly(void) {
    svc_op_t ops[] = {
        {.name = "fine", .status = 200, .access = SVC_PUBLIC, .handle = noop_handle},
        {.name = "forgot", .method = "GET", .route = "/x", .status = 200, .handle = noop_handle}};
    svc_module_t m = {.name = "demo", .schema = "demo", .ops = ops, .n_ops = 2};
    err_t e = {0};
    CHECK_EQ_INT(svc_check_module(&m, &e), -1);
    CHECK_EQ_INT(e.status, 500);
    CHECK(strstr(e.message, "forgot") && strstr(e.message, "no access rule"));

    const struct {
        svc_op_t op;
        const char *why;
    } bad[] = {
        {{.name = "p", .access = SVC_PERM, .handle = noop_handle}, "needs a .permission"},
        {{.name = "p", .access = SVC_PUBLIC, .permission = "x:y", .handle = noop_handle},
         "ignores"},
        {{.name = "i",
          .method = "GET",
          .route = "/i",
          .access = SVC_INTERNAL,
          .handle = noop_handle},
         "internal but has a REST route"},
        {{.name = "r", .method = "GET", .access = SVC_PUBLIC, .handle = noop_handle}, "neither"},
        {{.name = "h", .access = SVC_PUBLIC}, "no handler"},
        {{.name = "x", .access = (svc_access_t)99, .handle = noop_handle}, "no access rule"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        svc_module_t one = {.name = "demo", .schema = "demo", .ops = &bad[i].op, .n_ops = 1};
        err_t e1 = {0};
        CHECK_EQ_INT(svc_check_module(&one, &e1), -1);
        CHECK(strstr(e1.message, bad[i].why) != NULL);
    }

    svc_caller_t admin = {.user_id = "u", .network_admin = 1, .perms = "*"};
    json_t *in = json_object(), *out = NULL;
    int status = 0;
    err_t e2 = {0};
    svc_env_t env = {0};
    CHECK_EQ_INT(svc_dispatch(&env, &m, &ops[1], &admin, in, &status, &out, &e2), -1);
    CHECK_EQ_INT(status, 500);
    CHECK(out == NULL);
    json_decref(in);
}

/* ---- set-up: two clubs, three accounts ---- */

static int req(const char *bearer, const char *method, const char *path, const char *body,
               e2e_resp_t *r) {
    char url[1024];
    snprintf(url, sizeof url, "%s%s", g_proc.base, path);
    return e2e_http_as(bearer, method, url, body ? "application/json" : NULL, body, r);
}

static const char *jstr(const e2e_resp_t *r, const char *k) {
    return json_string_value(json_object_get(r->json, k));
}

static int create_club(const char *slug, char *id_out) {
    return e2e_club(&g_proc, "Matrix Club", slug,
                    "\"timezone\":\"UTC\",\"address\":{\"country\":\"GB\"}", id_out);
}

/* An account of club with role, signed in: tok gets its access token (e2e_account). */
static int account(const char *club, const char *slug, const char *role, char *uid, char *tok) {
    char email[128];
    snprintf(email, sizeof email, "matrix-%s-%s-%d@example.test", role, slug, (int)getpid());
    return e2e_account(&g_proc, club, slug, email, role, g_pw, uid, tok);
}

static void test_start(void) {
    static const char *const env[] = {
        "RECIPROCAL_CARD_KEK=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", NULL};
    REQUIRE(e2e_start(&g_proc, NULL, 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_proc, NULL, NULL) == 0);
    /* The run's binaries share one database and one JetStream (tests/run.sh), and the ledger is
     * one chain for the whole network: whether it exists depended on which test ran before
     * (test_agreements_api, test_visit_ledger, test_demo_seed bootstrap it). Bootstrapping it
     * here (idempotent) gives the ledger rows one state in any order: block 0, a checkpoint and
     * an export exist. */
    e2e_resp_t boot;
    REQUIRE(req(e2e_bearer(), "POST", "/api/v1/ledger/bootstrap", "{}", &boot) == 0);
    CHECK_EQ_INT(boot.status, 200);
    e2e_resp_free(&boot);
    snprintf(g_slug_a, sizeof g_slug_a, "matrix-a-%d", (int)getpid());
    snprintf(g_slug_b, sizeof g_slug_b, "matrix-b-%d", (int)getpid());
    REQUIRE(create_club(g_slug_a, g_club_a) == 0);
    REQUIRE(create_club(g_slug_b, g_club_b) == 0);
    char uid[64];
    REQUIRE(account(g_club_a, g_slug_a, "member", g_member_user, g_tok_member) == 0);
    REQUIRE(account(g_club_b, g_slug_b, "club_admin", uid, g_tok_other) == 0);
    REQUIRE(account(g_club_a, g_slug_a, "club_admin", uid, g_tok_staff) == 0);
    REQUIRE(account(g_club_a, g_slug_a, "club_treasurer", uid, g_tok_treasurer) == 0);
    /* the member record of A's member account, active */
    char body[1024];
    e2e_resp_t r;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"category\":\"full\",\"expires_on\":\"2099-12-31\","
             "\"auth_user_id\":\"%s\",\"profile\":{\"first_name\":\"Mat\",\"last_name\":"
             "\"Rix\",\"email\":\"mat@example.test\"}}",
             g_club_a, g_member_user);
    REQUIRE(req(e2e_bearer(), "POST", "/api/v1/members", body, &r) == 0);
    REQUIRE(r.status == 201);
    snprintf(g_self, sizeof g_self, "%s", jstr(&r, "id"));
    e2e_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/members/%s/status", g_self);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"active\"}", g_club_a);
    REQUIRE(req(e2e_bearer(), "POST", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    g_started = 1;
}

/* The route of op with its parameters filled in: {id} as the row says, the others fixed. */
static void fill_route(const row_t *row, const char *route, char *out, size_t cap) {
    size_t o = 0;
    for (const char *p = route; *p && o + 1 < cap;) {
        if (*p != '{') {
            out[o++] = *p++;
            continue;
        }
        const char *end = strchr(p, '}');
        size_t n = (size_t)(end - p - 1);
        const char *v = "0";
        if (n == 2 && !strncmp(p + 1, "id", 2))
            v = row->id == ID_CLUB ? g_club_a : row->id == ID_SELF ? g_self : g_none;
        else if (n == 4 && !strncmp(p + 1, "kind", 4))
            v = "home";
        else if (n == 4 && !strncmp(p + 1, "role", 4))
            v = "club_staff";
        else if (n == 4 && !strncmp(p + 1, "name", 4))
            v = "no_such_role";
        else if (n == 3 && !strncmp(p + 1, "org", 3))
            v = "no-such-org";
        else if (n == 5 && !strncmp(p + 1, "tx_id", 5))
            v = "ff";
        o += (size_t)snprintf(out + o, cap - o, "%s", v);
        if (o >= cap) o = cap - 1;
        p = end + 1;
    }
    out[o] = 0;
}

/* The request body of a row ("{}" unless the operation needs more to pass validation). */
static const char *body_of(const row_t *row) {
    static const struct {
        const char *op, *body;
    } bodies[] = {
        {"update_club", "{\"name\":\"Matrix Club\"}"},
        {"update_member", "{\"profile\":{\"preferred_name\":\"Mat\"}}"},
        {"put_member_address", "{\"country\":\"GB\"}"},
        {"renew_member", "{\"expires_on\":\"2100-01-01\"}"},
        /* analytics */
        {"set_capacity", "{\"rooms\":4}"},
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        if (!strcmp(bodies[i].op, row->op)) return bodies[i].body;
    return "{}";
}

static int http_status(const row_t *row, const svc_op_t *op, const char *token) {
    char path[512];
    fill_route(row, op->route, path, sizeof path);
    int body =
        !strcmp(op->method, "POST") || !strcmp(op->method, "PUT") || !strcmp(op->method, "PATCH");
    e2e_resp_t r;
    if (req(token, op->method, path, body ? body_of(row) : NULL, &r) != 0) return -1;
    int st = (int)r.status;
    e2e_resp_free(&r);
    return st;
}

static int access_status(const svc_op_t *op, const svc_caller_t *c) {
    err_t e = {0};
    return svc_access_check(op, c, &e) == 0 ? NO_ROUTE : e.status;
}

static void test_matrix(void) {
    const char *tokens[5] = {NULL, g_tok_member, g_tok_other, g_tok_staff, g_tok_treasurer};
    const char *names[5] = {"anonymous", "member", "other club's admin", "own club's admin",
                            "own club's treasurer"};
    svc_caller_t callers[5];
    memset(callers, 0, sizeof callers);
    snprintf(callers[1].perms, sizeof callers[1].perms, "%s", rbac_role_perms("member"));
    snprintf(callers[2].perms, sizeof callers[2].perms, "%s", rbac_role_perms("club_admin"));
    snprintf(callers[3].perms, sizeof callers[3].perms, "%s", rbac_role_perms("club_admin"));
    snprintf(callers[4].perms, sizeof callers[4].perms, "%s", rbac_role_perms("club_treasurer"));
    snprintf(callers[1].user_id, sizeof callers[1].user_id, "%.39s", g_member_user);
    snprintf(callers[1].club_id, sizeof callers[1].club_id, "%.39s", g_club_a);
    snprintf(callers[2].user_id, sizeof callers[2].user_id, "%.39s", g_none);
    snprintf(callers[2].club_id, sizeof callers[2].club_id, "%.39s", g_club_b);
    snprintf(callers[3].user_id, sizeof callers[3].user_id, "%.39s", g_none);
    snprintf(callers[3].club_id, sizeof callers[3].club_id, "%.39s", g_club_a);
    snprintf(callers[4].user_id, sizeof callers[4].user_id, "%.39s", g_none);
    snprintf(callers[4].club_id, sizeof callers[4].club_id, "%.39s", g_club_a);
    int checked = 0;
    for (size_t j = 0; j <= N_ROWS; j++) {
        /* logout ends the callers' sessions: it goes last */
        size_t i = j < N_ROWS ? j : (size_t)(find_row("auth", "logout") - g_rows);
        if (j < N_ROWS && i == (size_t)(find_row("auth", "logout") - g_rows)) continue;
        const row_t *row = &g_rows[i];
        const svc_module_t *m = svc_find_module(row->service);
        const svc_op_t *op = m ? svc_find_op(m, row->op) : NULL;
        if (!op) continue; /* reported by test_table_lists_every_operation */
        const int want[5] = {row->anon, row->member, row->other, row->staff, row->treasurer};
        for (int k = 0; k < 5; k++) {
            int got = op->route ? http_status(row, op, tokens[k]) : access_status(op, &callers[k]);
            checked++;
            if (got != want[k]) {
                printf("#   %s.%s (%s) as %s: %d, want %d\n", row->service, row->op,
                       svc_access_name(op->access), names[k], got, want[k]);
                CHECK_EQ_INT(got, want[k]);
            }
        }
    }
    printf("#   %d calls checked\n", checked);
}

static void test_stop(void) {
    CHECK_EQ_INT(e2e_stop(&g_proc), 0);
}

int main(void) {
    load_rows();
    RUN(test_table_lists_every_operation);
    RUN(test_missing_rule_fails_loudly);
    RUN(test_start);
    if (g_started) {
        RUN(test_matrix);
        RUN(test_stop);
    }
    free_rows();
    TEST_DONE();
}
