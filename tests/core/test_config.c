/* test_config: defaults, every variable valid and invalid, URL values never echoed, services
 * parsing, the describe table, and the modules' own tables (svc_module_t.config: each variable
 * once across core and every module). Needs no database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/service.h"
#include "services/auth/auth.h"
#include "test.h"

/* A fake environment: up to 8 NAME=value pairs. */
static const char *g_names[8];
static const char *g_values[8];
static int g_n;

static void env_reset(void) {
    g_n = 0;
}

static void env_set(const char *name, const char *value) {
    g_names[g_n] = name;
    g_values[g_n] = value;
    g_n++;
}

static const char *fake_getenv(const char *name) {
    for (int i = 0; i < g_n; i++)
        if (strcmp(g_names[i], name) == 0) return g_values[i];
    return NULL;
}

/* Loads with one variable set; returns the cfg_load result. */
static int load1(const char *name, const char *value, cfg_t *c, err_t *e) {
    env_reset();
    env_set(name, value);
    err_clear(e);
    return cfg_load(c, fake_getenv, e);
}

static void test_defaults(void) {
    cfg_t c;
    err_t e;
    env_reset();
    {
        int rc_ = cfg_load(&c, fake_getenv, &e);
        REQUIRE(rc_ == 0);
    }
    CHECK_STR(c.database_url, "postgresql://reciprocal_app@127.0.0.1:55432/reciprocal");
    CHECK_STR(c.migrate_database_url, "postgresql://reciprocal_owner@127.0.0.1:55432/reciprocal");
    CHECK_STR(c.nats_url, "nats://127.0.0.1:54222");
    CHECK_STR(c.listen_host, "127.0.0.1");
    CHECK_EQ_INT(c.listen_port, 8080);
    CHECK_EQ_INT(c.log_level, LOG_INFO);
    CHECK_EQ_INT(c.log_json, 1);
    CHECK_STR(c.services, "all");
    CHECK_EQ_INT(c.db_pool_size, 8);
    CHECK_EQ_INT(c.http_threads, 8);
    CHECK_EQ_INT(c.http_max_body, 1048576);
    CHECK_EQ_INT(c.http_timeout_s, 30);
    CHECK_EQ_INT(c.nats_timeout_ms, 5000);
    CHECK_EQ_INT(c.shutdown_grace_s, 10);
    CHECK_EQ_INT(c.outbox_poll_ms, 200);
    CHECK_EQ_INT(c.events_retention_h, 720); /* 30 days */
    /* empty values count as unset */
    {
        int rc_ = load1("RECIPROCAL_DB_POOL_SIZE", "", &c, &e);
        REQUIRE(rc_ == 0);
    }
    CHECK_EQ_INT(c.db_pool_size, 8);
    /* NULL getter means getenv */
    setenv("RECIPROCAL_HTTP_THREADS", "3", 1);
    {
        int rc_ = cfg_load(&c, NULL, &e);
        REQUIRE(rc_ == 0);
    }
    CHECK_EQ_INT(c.http_threads, 3);
    unsetenv("RECIPROCAL_HTTP_THREADS");
}

typedef struct {
    const char *name;
    long long min, max;
    size_t off;
    int is_size;
} int_var_t;

static long long read_int(const cfg_t *c, const int_var_t *v) {
    if (v->is_size) return (long long)*(const size_t *)((const char *)c + v->off);
    return *(const int *)((const char *)c + v->off);
}

static void test_integers(void) {
    static const int_var_t vars[] = {
        {"RECIPROCAL_DB_POOL_SIZE", 1, 256, offsetof(cfg_t, db_pool_size), 0},
        {"RECIPROCAL_HTTP_THREADS", 1, 256, offsetof(cfg_t, http_threads), 0},
        {"RECIPROCAL_HTTP_MAX_BODY_BYTES", 1024, 67108864, offsetof(cfg_t, http_max_body), 1},
        {"RECIPROCAL_HTTP_TIMEOUT_SECONDS", 1, 3600, offsetof(cfg_t, http_timeout_s), 0},
        {"RECIPROCAL_NATS_REQUEST_TIMEOUT_MS", 50, 120000, offsetof(cfg_t, nats_timeout_ms), 0},
        {"RECIPROCAL_SHUTDOWN_GRACE_SECONDS", 0, 300, offsetof(cfg_t, shutdown_grace_s), 0},
        {"RECIPROCAL_OUTBOX_POLL_MS", 10, 60000, offsetof(cfg_t, outbox_poll_ms), 0},
        {"RECIPROCAL_EVENTS_RETENTION_HOURS", 1, 87600, offsetof(cfg_t, events_retention_h), 0},
    };
    cfg_t c;
    err_t e;
    char buf[64];
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const int_var_t *v = &vars[i];
        long long good[] = {v->min, v->max, (v->min + v->max) / 2};
        for (int k = 0; k < 3; k++) {
            snprintf(buf, sizeof buf, "%lld", good[k]);
            CHECK_EQ_INT(load1(v->name, buf, &c, &e), 0);
            CHECK_EQ_INT(read_int(&c, v), good[k]);
        }
        char lo[32], hi[32];
        snprintf(lo, sizeof lo, "%lld", v->min - 1);
        snprintf(hi, sizeof hi, "%lld", v->max + 1);
        const char *bad[] = {lo,
                             hi,
                             "abc",
                             "8x",
                             " 8",
                             "8 ",
                             "+8",
                             "0x10",
                             "1e3",
                             "8.0",
                             "-",
                             "99999999999999999999999",
                             "-99999999999999999999",
                             NULL};
        for (int k = 0; bad[k]; k++) {
            int rc = load1(v->name, bad[k], &c, &e);
            if (rc != -1) fprintf(stdout, "#   %s=\"%s\" accepted\n", v->name, bad[k]);
            CHECK_EQ_INT(rc, -1);
            CHECK_STR(e.code, "invalid_config");
            CHECK_STR(e.field, v->name);
            char want[256];
            snprintf(want, sizeof want, "%s must be an integer from %lld to %lld (got \"%s\")",
                     v->name, v->min, v->max, bad[k]);
            CHECK_STR(e.message, want);
        }
    }
    CHECK(load1("RECIPROCAL_DB_POOL_SIZE", "abc", &c, &e) == -1);
    CHECK_STR(e.message, "RECIPROCAL_DB_POOL_SIZE must be an integer from 1 to 256 (got \"abc\")");
    /* leading zeros are still decimal */
    CHECK_EQ_INT(load1("RECIPROCAL_DB_POOL_SIZE", "010", &c, &e), 0);
    CHECK_EQ_INT(c.db_pool_size, 10);
}

static void test_urls(void) {
    cfg_t c;
    err_t e;
    static const char *pg_vars[] = {"RECIPROCAL_DATABASE_URL", "RECIPROCAL_MIGRATE_DATABASE_URL",
                                    NULL};
    for (int i = 0; pg_vars[i]; i++) {
        CHECK_EQ_INT(load1(pg_vars[i], "postgres://u:pw@db:5432/x?sslmode=require", &c, &e), 0);
        CHECK_EQ_INT(load1(pg_vars[i], "postgresql:///x?host=/run/postgresql", &c, &e), 0);
        const char *bad[] = {"mysql://u:s3cretpw@h/x",      "u:s3cretpw@h/x",
                             "postgres://u:s3cretpw@h/x y", "postgresql:/u:s3cretpw@h",
                             "http://u:s3cretpw@h",         NULL};
        for (int k = 0; bad[k]; k++) {
            CHECK_EQ_INT(load1(pg_vars[i], bad[k], &c, &e), -1);
            CHECK_STR(e.field, pg_vars[i]);
            CHECK_STR(e.code, "invalid_config");
            CHECK(strstr(e.message, "postgresql://") != NULL);
            CHECK(strstr(e.message, "s3cretpw") == NULL); /* never echoed */
            CHECK(strstr(e.message, "got") == NULL);
        }
        /* too long for the buffer */
        char *big = malloc(700);
        strcpy(big, "postgresql://u:s3cretpw@h/");
        memset(big + strlen(big), 'a', 600);
        big[650] = '\0';
        CHECK_EQ_INT(load1(pg_vars[i], big, &c, &e), -1);
        CHECK(strstr(e.message, "s3cretpw") == NULL);
        free(big);
    }
    CHECK_EQ_INT(load1("RECIPROCAL_DATABASE_URL", "postgres://a@b/c", &c, &e), 0);
    CHECK_STR(c.database_url, "postgres://a@b/c");
    CHECK_STR(c.migrate_database_url, "postgresql://reciprocal_owner@127.0.0.1:55432/reciprocal");

    const char *nats_good[] = {"nats://h:4222", "tls://u:p@h:4222", "nats://a:4222,nats://b:4222",
                               "nats://a:1, tls://b:2", NULL};
    for (int k = 0; nats_good[k]; k++) {
        int rc = load1("RECIPROCAL_NATS_URL", nats_good[k], &c, &e);
        if (rc) fprintf(stdout, "#   nats url \"%s\" refused\n", nats_good[k]);
        CHECK_EQ_INT(rc, 0);
    }
    CHECK_STR(c.nats_url, "nats://a:1, tls://b:2");
    const char *nats_bad[] = {
        "http://s3cretpw@h",     "h:4222", "nats://", "nats://s3cretpw@a,,nats://b", "nats://a b",
        "nats://s3cretpw@a,h:1", NULL};
    for (int k = 0; nats_bad[k]; k++) {
        int rc = load1("RECIPROCAL_NATS_URL", nats_bad[k], &c, &e);
        if (rc != -1) fprintf(stdout, "#   nats url \"%s\" accepted\n", nats_bad[k]);
        CHECK_EQ_INT(rc, -1);
        CHECK_STR(e.field, "RECIPROCAL_NATS_URL");
        CHECK(strstr(e.message, "nats://") != NULL);
        CHECK(strstr(e.message, "s3cretpw") == NULL);
    }
}

static void test_listen(void) {
    cfg_t c;
    err_t e;
    static const struct {
        const char *in, *host;
        int port;
    } good[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080},
        {"0.0.0.0:0", "0.0.0.0", 0},
        {"localhost:65535", "localhost", 65535},
        {"[::1]:8080", "::1", 8080},
        {"[::]:80", "::", 80},
        {"api.example.com:443", "api.example.com", 443},
        {"[fe80::1:2]:1", "fe80::1:2", 1},
        {NULL, NULL, 0},
    };
    for (int i = 0; good[i].in; i++) {
        int rc = load1("RECIPROCAL_LISTEN", good[i].in, &c, &e);
        if (rc) fprintf(stdout, "#   listen \"%s\" refused: %s\n", good[i].in, e.message);
        CHECK_EQ_INT(rc, 0);
        CHECK_STR(c.listen_host, good[i].host);
        CHECK_EQ_INT(c.listen_port, good[i].port);
    }
    const char *bad[] = {
        "8080",         ":8080",         "127.0.0.1",        "127.0.0.1:", "127.0.0.1:65536",
        "127.0.0.1:-1", "127.0.0.1:80a", "::1:8080",         "[::1]8080",  "[::1]",
        "[zz]:80",      "[]:80",         "ho st:80",         "-host:80",   "999.1.1.1:80",
        "1.2.3:80",     "127.0.0.1:+80", "127.0.0.1:000080", NULL};
    for (int i = 0; bad[i]; i++) {
        int rc = load1("RECIPROCAL_LISTEN", bad[i], &c, &e);
        if (rc != -1) fprintf(stdout, "#   listen \"%s\" accepted\n", bad[i]);
        CHECK_EQ_INT(rc, -1);
        CHECK_STR(e.field, "RECIPROCAL_LISTEN");
        CHECK(strstr(e.message, "host:port") != NULL);
        CHECK(strstr(e.message, bad[i]) != NULL); /* not a URL: the value is shown */
    }
}

static void test_log_settings(void) {
    cfg_t c;
    err_t e;
    static const struct {
        const char *in;
        int level;
    } lv[] = {{"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN},
              {"error", LOG_ERROR}, {"WARN", LOG_WARN}, {NULL, 0}};
    for (int i = 0; lv[i].in; i++) {
        CHECK_EQ_INT(load1("RECIPROCAL_LOG_LEVEL", lv[i].in, &c, &e), 0);
        CHECK_EQ_INT(c.log_level, lv[i].level);
    }
    CHECK_EQ_INT(load1("RECIPROCAL_LOG_LEVEL", "verbose", &c, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_LOG_LEVEL");
    CHECK_STR(e.message,
              "RECIPROCAL_LOG_LEVEL must be one of debug, info, warn, error (got \"verbose\")");
    CHECK_EQ_INT(load1("RECIPROCAL_LOG_LEVEL", "warning", &c, &e), -1);

    CHECK_EQ_INT(load1("RECIPROCAL_LOG_FORMAT", "text", &c, &e), 0);
    CHECK_EQ_INT(c.log_json, 0);
    CHECK_EQ_INT(load1("RECIPROCAL_LOG_FORMAT", "json", &c, &e), 0);
    CHECK_EQ_INT(c.log_json, 1);
    CHECK_EQ_INT(load1("RECIPROCAL_LOG_FORMAT", "xml", &c, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_LOG_FORMAT");
    CHECK_STR(e.message, "RECIPROCAL_LOG_FORMAT must be json or text (got \"xml\")");
}

static void test_services(void) {
    cfg_t c;
    err_t e;
    CHECK_EQ_INT(load1("RECIPROCAL_SERVICES", "gateway,member", &c, &e), 0);
    CHECK_STR(c.services, "gateway,member");
    CHECK(cfg_service_enabled(&c, "gateway"));
    CHECK(cfg_service_enabled(&c, "member"));
    CHECK(!cfg_service_enabled(&c, "ledger"));
    CHECK(!cfg_service_enabled(&c, "gate"));
    CHECK(!cfg_service_enabled(&c, "gateway,member"));
    CHECK(!cfg_service_enabled(&c, ""));
    CHECK(!cfg_service_enabled(&c, NULL));

    CHECK_EQ_INT(load1("RECIPROCAL_SERVICES", "  auth ,\tledger , reciprocal", &c, &e), 0);
    CHECK_STR(c.services, "auth,ledger,reciprocal");
    CHECK(cfg_service_enabled(&c, "auth"));
    CHECK(cfg_service_enabled(&c, "ledger"));
    CHECK(cfg_service_enabled(&c, "reciprocal"));
    CHECK(!cfg_service_enabled(&c, "gateway"));

    const char *all_names[] = {"gateway",      "auth",      "member",     "reciprocal", "ledger",
                               "notification", "analytics", "governance", "anything",   NULL};
    CHECK_EQ_INT(load1("RECIPROCAL_SERVICES", "all", &c, &e), 0);
    for (int i = 0; all_names[i]; i++)
        CHECK(cfg_service_enabled(&c, all_names[i]));
    CHECK_EQ_INT(load1("RECIPROCAL_SERVICES", "member, all", &c, &e), 0);
    CHECK(cfg_service_enabled(&c, "ledger"));
    /* the valid names are the registry's modules (src/services/registry.c), each accepted on
     * its own: adding a service adds its name without a line in core/config.c */
    size_t nmod = 0;
    char names[256] = "";
    while (svc_registry[nmod])
        nmod++;
    CHECK(nmod >= 6);
    for (size_t i = 0; i < nmod; i++) {
        const char *name = svc_registry[i]->name;
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", name);
        CHECK_EQ_INT(load1("RECIPROCAL_SERVICES", name, &c, &e), 0);
        CHECK(cfg_service_enabled(&c, name));
        CHECK(!cfg_service_enabled(&c, svc_registry[(i + 1) % nmod]->name));
    }
    CHECK(strstr(names, "gateway") && strstr(names, "member") && strstr(names, "reciprocal"));

    CHECK_EQ_INT(load1("RECIPROCAL_SERVICES", "gateway,billing", &c, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_SERVICES");
    CHECK_STR(e.code, "invalid_config");
    CHECK(strstr(e.message, "\"billing\"") != NULL);
    CHECK(strstr(e.message, names) != NULL);
    /* `reciprocal config` lists the names too */
    char *text = NULL;
    size_t tn = 0;
    FILE *f = open_memstream(&text, &tn);
    cfg_describe(f);
    fclose(f);
    CHECK(strstr(text, names) != NULL);
    free(text);
    const char *bad[] = {"gateway,,member", ",", "gateway,", " ", "Gateway", "all;member", NULL};
    for (int i = 0; bad[i]; i++) {
        int rc = load1("RECIPROCAL_SERVICES", bad[i], &c, &e);
        if (rc != -1) fprintf(stdout, "#   services \"%s\" accepted\n", bad[i]);
        CHECK_EQ_INT(rc, -1);
        CHECK_STR(e.field, "RECIPROCAL_SERVICES");
    }
}

/* `reciprocal nats-permissions USER`: a user name that is no registry module (or an empty part)
 * is a readable but unacceptable value, 422 invalid_field naming user (docs/architecture.md
 * "Errors"); a module's name lists its subjects. */
static void test_nats_permissions_user(void) {
    static const char *const bad[] = {"nosuch", "member--auth", "-member", "member-nosuch"};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    REQUIRE(f != NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_t e = {0};
        CHECK_EQ_INT(svc_nats_permissions(bad[i], f, &e), -1);
        CHECK_EQ_INT(e.status, 422);
        CHECK_STR(e.code, "invalid_field");
        CHECK_STR(e.field, "user");
    }
    err_t e = {0};
    CHECK_EQ_INT(svc_nats_permissions("member", f, &e), 0);
    fclose(f);
    CHECK(buf && strstr(buf, "svc.member.") != NULL);
    free(buf);
}

static void test_first_error_wins_and_all_vars_together(void) {
    cfg_t c;
    err_t e;
    env_reset();
    env_set("RECIPROCAL_LISTEN", "[::1]:9000");
    env_set("RECIPROCAL_LOG_FORMAT", "text");
    env_set("RECIPROCAL_SERVICES", "ledger");
    env_set("RECIPROCAL_OUTBOX_POLL_MS", "50");
    {
        int rc_ = cfg_load(&c, fake_getenv, &e);
        REQUIRE(rc_ == 0);
    }
    CHECK_STR(c.listen_host, "::1");
    CHECK_EQ_INT(c.listen_port, 9000);
    CHECK_EQ_INT(c.log_json, 0);
    CHECK_STR(c.services, "ledger");
    CHECK_EQ_INT(c.outbox_poll_ms, 50);
    CHECK_EQ_INT(c.db_pool_size, 8);
    env_set("RECIPROCAL_HTTP_THREADS", "0");
    CHECK_EQ_INT(cfg_load(&c, fake_getenv, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_HTTP_THREADS");
}

static void test_describe(void) {
    FILE *f = tmpfile();
    REQUIRE(f != NULL);
    cfg_describe(f);
    long n = ftell(f);
    rewind(f);
    char *text = calloc(1, (size_t)n + 1);
    size_t got = fread(text, 1, (size_t)n, f);
    fclose(f);
    CHECK_EQ_INT(got, n);
    CHECK_EQ_INT(cfg_var_count(),
                 34); /* core only (+ RECIPROCAL_CACHE_* 2): the modules' in test_module_vars */
    /* every variable appears as NAME=default, and every default loads */
    for (size_t i = 0; i < cfg_var_count(); i++) {
        char line[700];
        snprintf(line, sizeof line, "%s=%s\n", cfg_var_name(i), cfg_var_default(i));
        if (!strstr(text, line)) fprintf(stdout, "#   missing in describe: %s", line);
        CHECK(strstr(text, line) != NULL);
        cfg_t c;
        err_t e;
        CHECK_EQ_INT(load1(cfg_var_name(i), cfg_var_default(i), &c, &e), 0);
    }
    CHECK(strstr(text, "RECIPROCAL_DB_POOL_SIZE=8\n") != NULL);
    CHECK(strstr(text, "from 1 to 256") != NULL);
    CHECK(cfg_var_name(cfg_var_count()) == NULL);
    free(text);
}

/* The auth variables (issue 3): defaults, bounds, and the key-encryption key, which has no
 * default, must be 32 bytes of base64 and is never echoed in an error. */
static int load_mod(const char *name, const char *value, svc_settings_t *s, err_t *e) {
    env_reset();
    env_set(name, value);
    err_clear(e);
    return svc_settings_load(s, fake_getenv, e);
}

static void test_auth_vars(void) {
    static svc_settings_t s;
    err_t e;
    env_reset();
    REQUIRE(svc_settings_load(&s, fake_getenv, &e) == 0);
    const svc_env_t env = {.settings = &s};
    const auth_settings_t *a = auth_settings(&env);
    CHECK_STR(a->issuer, "reciprocal");
    CHECK_STR(a->audience, "reciprocal-api");
    CHECK_EQ_INT(a->access_ttl_s, 900);
    CHECK_EQ_INT(a->session_max_s, 2592000);
    CHECK_EQ_INT(a->session_idle_s, 604800);
    CHECK_EQ_INT(a->invite_ttl_s, 604800);
    CHECK_EQ_INT(a->reset_ttl_s, 3600);
    CHECK_EQ_INT(a->max_failures, 5);
    CHECK_EQ_INT(a->ip_max_failures, 50);
    CHECK_EQ_INT(a->kek.set, 0);
    /* the one key check, at startup (serve with auth) and at use */
    cfg_t c;
    REQUIRE(cfg_load(&c, fake_getenv, &e) == 0);
    CHECK_EQ_INT(svc_settings_require(&s, &c, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_AUTH_KEK"); /* member first: its card key is optional */
    CHECK_STR(e.code, "invalid_config");
    CHECK(strstr(e.message, "base64") != NULL);
    CHECK_EQ_INT(cfg_key_require(&a->kek, "RECIPROCAL_AUTH_KEK", 503, "auth_not_configured", &e),
                 -1);
    CHECK_STR(e.field, "RECIPROCAL_AUTH_KEK");
    CHECK_EQ_INT(e.status, 503);
    /* 32 bytes 0x00..0x1f */
    CHECK_EQ_INT(
        load_mod("RECIPROCAL_AUTH_KEK", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &s, &e), 0);
    CHECK_EQ_INT(a->kek.set, 1);
    CHECK_EQ_INT(a->kek.key[0], 0);
    CHECK_EQ_INT(a->kek.key[31], 31);
    CHECK_EQ_INT(cfg_key_require(&a->kek, "RECIPROCAL_AUTH_KEK", 500, "invalid_config", &e), 0);
    /* 31 bytes, 33 bytes, not base64: refused without echoing the value */
    static const char *const bad[] = {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
                                      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
                                      "secret-value!not*base64", NULL};
    for (const char *const *b = bad; *b; b++) {
        CHECK_EQ_INT(load_mod("RECIPROCAL_AUTH_KEK", *b, &s, &e), -1);
        CHECK_STR(e.field, "RECIPROCAL_AUTH_KEK");
        CHECK(strstr(e.message, *b) == NULL);
        CHECK(strstr(e.message, "32 bytes") != NULL);
    }
    CHECK_EQ_INT(load_mod("RECIPROCAL_AUTH_ACCESS_TTL_SECONDS", "59", &s, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_AUTH_ACCESS_TTL_SECONDS");
    CHECK_EQ_INT(load_mod("RECIPROCAL_AUTH_SESSION_IDLE_SECONDS", "3600", &s, &e), 0);
    CHECK_EQ_INT(a->session_idle_s, 3600);
    CHECK_EQ_INT(load_mod("RECIPROCAL_AUTH_ISSUER", "https://id.example", &s, &e), 0);
    CHECK_STR(a->issuer, "https://id.example");
    CHECK_EQ_INT(load_mod("RECIPROCAL_AUTH_AUDIENCE", "two\nlines", &s, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_AUTH_AUDIENCE");
    /* RECIPROCAL_JWT_ALG (issue 16): RS256 by default, any case, jwt_alg_t order; nothing else */
    CHECK_EQ_INT(a->jwt_alg, 0);
    CHECK_EQ_INT(load_mod("RECIPROCAL_JWT_ALG", "eddsa", &s, &e), 0);
    CHECK_EQ_INT(a->jwt_alg, 1);
    CHECK_EQ_INT(load_mod("RECIPROCAL_JWT_ALG", "ES256", &s, &e), 0);
    CHECK_EQ_INT(a->jwt_alg, 2);
    static const char *const algs[] = {"HS256", "none", "RS512", "Ed25519", NULL};
    for (const char *const *b = algs; *b; b++) {
        CHECK_EQ_INT(load_mod("RECIPROCAL_JWT_ALG", *b, &s, &e), -1);
        CHECK_STR(e.field, "RECIPROCAL_JWT_ALG");
        CHECK(strstr(e.message, "RS256, EdDSA or ES256") != NULL);
    }
    /* without settings, a module reads its defaults */
    const svc_env_t none = {0};
    CHECK_STR(auth_settings(&none)->issuer, "reciprocal");
    CHECK_EQ_INT(auth_settings(&none)->kek.set, 0);
}

/* Every variable of core and of every module: named once across all tables (no collisions),
 * RECIPROCAL_-prefixed, listed by `reciprocal config` as NAME=default, and its default loads.
 * The count keeps additions deliberate (README.md must list each, below). */
static void test_module_vars(void) {
    FILE *f = tmpfile();
    REQUIRE(f != NULL);
    svc_config_describe(f);
    long n = ftell(f);
    rewind(f);
    char *text = calloc(1, (size_t)n + 1);
    CHECK_EQ_INT(fread(text, 1, (size_t)n, f), n);
    fclose(f);
    const cfg_var_t *all[256];
    size_t total = 0;
    for (size_t i = 0; i < cfg_var_count() && total < 256; i++)
        all[total++] = cfg_var(i);
    for (const svc_module_t *const *m = svc_registry; *m; m++) {
        CHECK(((*m)->config.n_vars == 0) == ((*m)->config.size == 0));
        for (size_t i = 0; i < (*m)->config.n_vars && total < 256; i++) {
            const cfg_var_t *v = &(*m)->config.vars[i];
            CHECK(v->offset + v->size <= (*m)->config.size);
            all[total++] = v;
        }
    }
    CHECK_EQ_INT(total, 99); /* + notification: RECIPROCAL_SMTP_* (7), RECIPROCAL_NOTIFY_* (4),
                                RECIPROCAL_WEBHOOK_* (3); + governance (1); + analytics (4);
                                + notification SMS/push: RECIPROCAL_SMS_* (7), RECIPROCAL_PUSH_*
                                (6), RECIPROCAL_PROVIDER_* (2); + notification-rest:
                                RECIPROCAL_WEBHOOK_KEK (1); + auth: RECIPROCAL_JWT_ALG (1);
                                + notif-speed: RECIPROCAL_NOTIFY_SENDERS (1),
                                RECIPROCAL_SMTP_SECONDARY_* (3), RECIPROCAL_SMTP_FAILOVER_AFTER (1),
                                RECIPROCAL_PUSH_SERVICE_ACCOUNT_FILE (1); + read cache:
                                RECIPROCAL_CACHE_TTL_SECONDS, RECIPROCAL_CACHE_MAX_ENTRIES (2);
                                + notification bounces: RECIPROCAL_EMAIL_CALLBACK_SECRET (1);
                                + mailfx: RECIPROCAL_NOTIFY_SUPPRESSION_DAYS (1); + votes:
                                RECIPROCAL_GOVERNANCE_LEDGER_SECONDS (1) */
    for (size_t i = 0; i < total; i++) {
        CHECK(strncmp(all[i]->name, "RECIPROCAL_", 11) == 0);
        for (size_t j = i + 1; j < total; j++) {
            if (strcmp(all[i]->name, all[j]->name) == 0)
                printf("#   %s is declared twice\n", all[i]->name);
            CHECK(strcmp(all[i]->name, all[j]->name) != 0);
        }
        char line[700];
        snprintf(line, sizeof line, "%s=%s\n", all[i]->name, all[i]->def);
        if (!strstr(text, line)) printf("#   missing in describe: %s", line);
        CHECK(strstr(text, line) != NULL);
        static svc_settings_t s;
        cfg_t c;
        err_t e;
        CHECK_EQ_INT(load_mod(all[i]->name, all[i]->def, &s, &e), 0);
        CHECK_EQ_INT(load1(all[i]->name, all[i]->def, &c, &e), 0);
    }
    CHECK(strstr(text, "# service auth\n") != NULL);
    free(text);
}

/* The bus (docs/security.md N1/N2): no key, no serve; the key is 32 bytes of base64 and not
 * echoed; the NATS user and password are optional text, the password never in an error. */
static void test_bus_vars(void) {
    cfg_t c;
    err_t e = {0};
    CHECK_EQ_INT(load1("RECIPROCAL_LOG_LEVEL", "info", &c, &e), 0);
    CHECK_EQ_INT(c.bus_key.set, 0);
    CHECK_STR(c.nats_user, "");
    CHECK_STR(c.nats_password, "");
    CHECK_EQ_INT(cfg_require_bus_key(&c, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_BUS_KEY");
    CHECK_EQ_INT(
        load1("RECIPROCAL_BUS_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &c, &e), 0);
    CHECK_EQ_INT(c.bus_key.set, 1);
    CHECK_EQ_INT(c.bus_key.key[31], 31);
    CHECK_EQ_INT(cfg_require_bus_key(&c, &e), 0);
    e = (err_t){0};
    CHECK_EQ_INT(load1("RECIPROCAL_BUS_KEY", "c2hvcnQ=", &c, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_BUS_KEY");
    CHECK(strstr(e.message, "c2hvcnQ") == NULL);
    CHECK_EQ_INT(load1("RECIPROCAL_NATS_USER", "member-auth", &c, &e), 0);
    CHECK_STR(c.nats_user, "member-auth");
    e = (err_t){0};
    CHECK_EQ_INT(load1("RECIPROCAL_NATS_PASSWORD", "s3cr\x01t", &c, &e), -1);
    CHECK_STR(e.field, "RECIPROCAL_NATS_PASSWORD");
    CHECK(strstr(e.message, "s3cr") == NULL);
}

/* RECIPROCAL_NATS_REPLICAS (issue 17 item 7): auto (0) by default, 1..5, anything else named. */
static void test_nats_replicas(void) {
    cfg_t c;
    err_t e = {0};
    CHECK_EQ_INT(load1("RECIPROCAL_LOG_LEVEL", "info", &c, &e), 0);
    CHECK_EQ_INT(c.nats_replicas, 0);
    CHECK_EQ_INT(load1("RECIPROCAL_NATS_REPLICAS", "AUTO", &c, &e), 0);
    CHECK_EQ_INT(c.nats_replicas, 0);
    CHECK_EQ_INT(load1("RECIPROCAL_NATS_REPLICAS", "1", &c, &e), 0);
    CHECK_EQ_INT(c.nats_replicas, 1);
    CHECK_EQ_INT(load1("RECIPROCAL_NATS_REPLICAS", "5", &c, &e), 0);
    CHECK_EQ_INT(c.nats_replicas, 5);
    const char *bad[] = {"0", "6", "-1", "three", "3x", "auto3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        e = (err_t){0};
        CHECK_EQ_INT(load1("RECIPROCAL_NATS_REPLICAS", bad[i], &c, &e), -1);
        CHECK_STR(e.code, "invalid_config");
        CHECK_STR(e.field, "RECIPROCAL_NATS_REPLICAS");
    }
}

/* README.md documents every variable of the config table (keeps the docs honest). */
static void test_readme_lists_every_variable(void) {
    const char *root = getenv("RECIPROCAL_TEST_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/README.md", root && *root ? root : ".");
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    for (size_t i = 0; i < cfg_var_count(); i++) {
        char quoted[128];
        snprintf(quoted, sizeof quoted, "`%s`", cfg_var_name(i));
        if (!strstr(text, quoted)) printf("#   README.md does not document %s\n", cfg_var_name(i));
        CHECK(strstr(text, quoted) != NULL);
    }
    for (const svc_module_t *const *m = svc_registry; *m; m++)
        for (size_t i = 0; i < (*m)->config.n_vars; i++) {
            char quoted[128];
            const char *name = (*m)->config.vars[i].name;
            snprintf(quoted, sizeof quoted, "`%s`", name);
            if (!strstr(text, quoted)) printf("#   README.md does not document %s\n", name);
            CHECK(strstr(text, quoted) != NULL);
        }
}

int main(void) {
    RUN(test_defaults);
    RUN(test_auth_vars);
    RUN(test_integers);
    RUN(test_urls);
    RUN(test_listen);
    RUN(test_log_settings);
    RUN(test_services);
    RUN(test_first_error_wins_and_all_vars_together);
    RUN(test_describe);
    RUN(test_module_vars);
    RUN(test_bus_vars);
    RUN(test_nats_replicas);
    RUN(test_readme_lists_every_variable);
    RUN(test_nats_permissions_user);
    TEST_DONE();
}
