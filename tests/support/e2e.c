/* e2e: see e2e.h. */
#include "support/e2e.h"

#include "core/bus.h"
#include "core/config.h"
#include "core/db.h"
#include "core/service.h"
#include "lib/credentials/password.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int e2e_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

int e2e_port_open(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0;
    if (s >= 0) close(s);
    return ok;
}

static void print_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f) && n++ < 400)
        printf("#   | %s", line);
    fclose(f);
}

int e2e_nats_password(const char *user, char *out, size_t cap) {
    char var[128];
    size_t n = (size_t)snprintf(var, sizeof var, "RECIPROCAL_TEST_NATS_PASSWORD_");
    for (const char *p = user; *p && n + 1 < sizeof var; p++) {
        char ch = *p;
        if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
        var[n++] = ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) ? ch : '_';
    }
    var[n] = '\0';
    const char *pw = getenv(var);
    if (!pw) return -1;
    snprintf(out, cap, "%s", pw);
    return 0;
}

/* A server runs as the NATS user of its services (tests/run.sh creates them): "all", or the
 * list joined by "-" ("member,auth" -> "member-auth"), like a real deployment. */
static void apply_nats_user(const char *services) {
    char user[64], pw[256];
    snprintf(user, sizeof user, "%s", services ? services : "all");
    for (char *p = user; *p; p++)
        if (*p == ',') *p = '-';
    const char *server = getenv("RECIPROCAL_TEST_NATS_SERVER_URL");
    if (!server || e2e_nats_password(user, pw, sizeof pw) != 0) return;
    setenv("RECIPROCAL_NATS_URL", server, 1);
    setenv("RECIPROCAL_NATS_USER", user, 1);
    setenv("RECIPROCAL_NATS_PASSWORD", pw, 1);
}

static void apply_env(const char *services, const char *const *extra_env) {
    const char *db = getenv("RECIPROCAL_TEST_DATABASE_URL");
    const char *owner = getenv("RECIPROCAL_TEST_OWNER_URL");
    const char *nats = getenv("RECIPROCAL_TEST_NATS_URL");
    if (db) setenv("RECIPROCAL_DATABASE_URL", db, 1);
    if (owner) setenv("RECIPROCAL_MIGRATE_DATABASE_URL", owner, 1);
    if (nats) setenv("RECIPROCAL_NATS_URL", nats, 1);
    apply_nats_user(services);
    setenv("RECIPROCAL_LOG_FORMAT", "json", 1);
    setenv("RECIPROCAL_SHUTDOWN_GRACE_SECONDS", "5", 1);
    for (const char *const *e = extra_env; e && *e; e++)
        putenv((char *)*e);
}

static const char *binary(void) {
    const char *b = getenv("RECIPROCAL_TEST_BIN");
    return b && *b ? b : "build/reciprocal-san";
}

/* 1 when the file contains needle. */
static int log_has(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    char line[4096];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    if (f) fclose(f);
    return found;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int e2e_start(e2e_proc_t *p, const char *services, int port, int wait_ready,
              const char *const *extra_env) {
    static int counter;
    memset(p, 0, sizeof *p);
    p->port = port ? port : e2e_free_port();
    snprintf(p->base, sizeof p->base, "http://127.0.0.1:%d", p->port);
    const char *tmp = getenv("RECIPROCAL_TEST_TMP");
    snprintf(p->log_path, sizeof p->log_path, "%s/serve-%d-%d.log", tmp ? tmp : "/tmp",
             (int)getpid(), ++counter);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        apply_env(services, extra_env);
        char listen[64];
        snprintf(listen, sizeof listen, "127.0.0.1:%d", p->port);
        setenv("RECIPROCAL_LISTEN", listen, 1);
        if (services)
            execl(binary(), binary(), "serve", "--services", services, (char *)NULL);
        else
            execl(binary(), binary(), "serve", (char *)NULL);
        _exit(127);
    }
    p->pid = pid;
    if (!wait_ready) {
        sleep_ms(1500);
        return 0;
    }
    char url[128];
    snprintf(url, sizeof url, "%s/health/ready", p->base);
    for (int i = 0; i < 300; i++) {
        e2e_resp_t r;
        if (e2e_http("GET", url, NULL, NULL, &r) == 0 && r.status == 200) {
            e2e_resp_free(&r);
            return 0;
        }
        e2e_resp_free(&r);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            printf("#   server exited during startup\n");
            print_file(p->log_path);
            p->pid = 0;
            return -1;
        }
        sleep_ms(100);
    }
    printf("#   server not ready after 30 s\n");
    print_file(p->log_path);
    return -1;
}

int e2e_stop(e2e_proc_t *p) {
    if (p->pid <= 0) return -1;
    kill(p->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 300; i++) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) break;
        if (i == 299) {
            printf("#   server did not stop within 30 s, killing\n");
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            print_file(p->log_path);
            p->pid = 0;
            return -1;
        }
        sleep_ms(100);
    }
    p->pid = 0;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (code != 0) {
        printf("#   server exited with status %d\n", code);
        print_file(p->log_path);
    } else if (log_has(p->log_path, "Not Permitted")) {
        /* nats-server refused a subscription or publish of the server's own NATS user: its
         * permissions (its module's .nats, `reciprocal nats-permissions`) miss a subject the
         * service uses */
        printf("#   the server's NATS user was refused a subject (Not Permitted)\n");
        print_file(p->log_path);
        code = 1;
    }
    return code;
}

int e2e_run(const char *const *args, const char *const *extra_env, char **out) {
    int pipefd[2];
    if (pipe(pipefd) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        apply_env(NULL, extra_env);
        const char *argv[32] = {binary()};
        int n = 1;
        for (const char *const *a = args; *a && n < 31; a++)
            argv[n++] = *a;
        execv(binary(), (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t k;
    while ((k = read(pipefd[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)k;
        if (cap - len < 1024) buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    close(pipefd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

typedef struct buf {
    char *data;
    size_t len;
} buf_t;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud) {
    buf_t *b = ud;
    size_t add = size * n;
    char *d = realloc(b->data, b->len + add + 1);
    if (!d) return 0;
    memcpy(d + b->len, ptr, add);
    b->data = d;
    b->len += add;
    d[b->len] = 0;
    return add;
}

static char g_bearer[8192];

void e2e_set_bearer(const char *token) {
    snprintf(g_bearer, sizeof g_bearer, "%s", token ? token : "");
}

const char *e2e_bearer(void) {
    return g_bearer;
}

int e2e_http(const char *method, const char *url, const char *content_type, const char *body,
             e2e_resp_t *r) {
    return e2e_http_as(g_bearer, method, url, content_type, body, r);
}

int e2e_start_split(e2e_proc_t *notify, e2e_proc_t *gw, const char *gw_services,
                    const char *const *extra_env) {
    if (e2e_start(notify, "notification", 0, 0, extra_env) != 0) return -1;
    if (e2e_start(gw, gw_services, 0, 1, extra_env) != 0) return -1;
    return e2e_login_admin(gw, NULL, NULL);
}

int e2e_login_admin(const e2e_proc_t *p, char *email_out, char *password_out) {
    static int counter;
    char email[128], password[128], pwenv[160], url[256], body[512];
    snprintf(email, sizeof email, "e2e-admin-%d-%d@example.test", (int)getpid(), ++counter);
    snprintf(password, sizeof password, "e2e admin passphrase %d-%d lighthouse", (int)getpid(),
             counter);
    snprintf(pwenv, sizeof pwenv, "RECIPROCAL_ADMIN_PASSWORD=%s", password);
    const char *args[] = {"auth", "create-admin", "--email", email, NULL};
    const char *env[] = {pwenv, NULL};
    char *out = NULL;
    int rc = e2e_run(args, env, &out);
    if (rc != 0) {
        printf("#   auth create-admin exited %d: %s\n", rc, out ? out : "");
        free(out);
        return -1;
    }
    free(out);
    snprintf(url, sizeof url, "%s/api/v1/auth/login", p->base);
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    e2e_resp_t r;
    if (e2e_http_as(NULL, "POST", url, "application/json", body, &r) != 0 || r.status != 200 ||
        !json_string_value(json_object_get(r.json, "access_token"))) {
        printf("#   admin login failed: %ld %s\n", r.status, r.body ? r.body : "");
        e2e_resp_free(&r);
        return -1;
    }
    e2e_set_bearer(json_string_value(json_object_get(r.json, "access_token")));
    e2e_resp_free(&r);
    if (email_out) snprintf(email_out, 128, "%s", email);
    if (password_out) snprintf(password_out, 128, "%s", password);
    return 0;
}

static char g_extra_header[512];

void e2e_set_extra_header(const char *line) {
    snprintf(g_extra_header, sizeof g_extra_header, "%s", line ? line : "");
}

int e2e_http_as(const char *bearer, const char *method, const char *url, const char *content_type,
                const char *body, e2e_resp_t *r) {
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (!c) return -1;
    buf_t b = {0}, h = {0};
    struct curl_slist *hdrs = NULL;
    char ct[256];
    if (content_type) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, ct);
    } else {
        hdrs = curl_slist_append(hdrs, "Content-Type:");
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (g_extra_header[0]) hdrs = curl_slist_append(hdrs, g_extra_header);
    if (bearer && *bearer) {
        size_t n = strlen(bearer) + 32;
        char *auth = malloc(n);
        if (auth) {
            snprintf(auth, n, "Authorization: Bearer %s", bearer);
            hdrs = curl_slist_append(hdrs, auth);
            free(auth);
        }
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* curl sends "Expect: 100-continue" for bodies over 1 MiB and, by default, starts sending the
     * body anyway after 1 s without an answer. On a loaded machine that 1 s can pass before the
     * server's early 413 arrives; the server then closes while the body is still coming and the
     * client sees a reset instead of the 413. Wait for the server's answer as the protocol
     * intends. */
    curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 10000L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    r->body = b.data ? b.data : strdup("");
    r->headers = h.data ? h.data : strdup("");
    r->json = json_loads(r->body, 0, NULL);
    return rc == CURLE_OK ? 0 : -1;
}

void e2e_resp_free(e2e_resp_t *r) {
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

const char *e2e_header(const e2e_resp_t *r, const char *name, char *buf, size_t cap) {
    size_t n = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end) end = line + strlen(line);
        if ((size_t)(end - line) > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t len = (size_t)(end - v);
            if (len >= cap) len = cap - 1;
            memcpy(buf, v, len);
            buf[len] = 0;
            return buf;
        }
        line = *end ? end + 2 : end;
    }
    return NULL;
}

/* ---- one-time tokens, as the notification service gets them (docs/security.md N3) ---- */

typedef struct want_token {
    const char *type, *email;
    bus_t *bus;
    cfg_t *cfg;
    char token[128];
} want_token_t;

int e2e_delivery_token(void *bus, const void *cfg, const char *club_id, const char *token_id,
                       json_t **out) {
    svc_env_t env = {.cfg = cfg, .bus = bus};
    svc_caller_t sys = {0};
    err_t e = {0};
    int status = 0;
    snprintf(sys.perms, sizeof sys.perms, "auth:deliver");
    const svc_module_t *m = svc_find_module("auth");
    const svc_op_t *op = m ? svc_find_op(m, "delivery_token") : NULL;
    *out = NULL;
    if (!op) return -1;
    json_t *in = json_pack("{s:s, s:s}", "club_id", club_id, "token_id", token_id);
    int rc = svc_call_remote(&env, m, op, &sys, in, &status, out, &e);
    json_decref(in);
    return rc;
}

static int on_token_event(const char *subject, const char *msg_id, const char *data, size_t len,
                          void *ud) {
    want_token_t *w = ud;
    (void)msg_id;
    json_t *ev = json_loadb(data, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *d = json_object_get(ev, "data");
    const char *club = json_string_value(json_object_get(d, "club_id"));
    const char *token_id = json_string_value(json_object_get(d, "token_id"));
    if (!w->token[0] && type && strcmp(type, w->type) == 0 && strstr(subject, w->type) && club &&
        token_id) {
        json_t *out = NULL;
        if (e2e_delivery_token(w->bus, w->cfg, club, token_id, &out) == 0) {
            const char *email = json_string_value(json_object_get(out, "email"));
            const char *tok = json_string_value(json_object_get(out, "token"));
            if (email && strcasecmp(email, w->email) == 0 && tok)
                snprintf(w->token, sizeof w->token, "%s", tok);
        }
        json_decref(out);
    }
    json_decref(ev);
    return 0;
}

int e2e_event_token(const char *type, const char *email, int tries, char *out, size_t cap) {
    static int calls;
    static cfg_t cfg;
    err_t e = {0};
    out[0] = '\0';
    if (cfg_load(&cfg, NULL, &e) != 0) return -1; /* RECIPROCAL_BUS_KEY from tests/run.sh */
    bus_t *b = bus_connect(getenv("RECIPROCAL_TEST_NATS_URL"), "e2e-token", &e);
    if (!b) return -1;
    want_token_t w = {.type = type, .email = email, .bus = b, .cfg = &cfg};
    char durable[64], filter[128];
    snprintf(durable, sizeof durable, "e2e_token_%d_%d", (int)getpid(), ++calls);
    snprintf(filter, sizeof filter, "events.%s", type);
    for (int i = 0; i < tries && !w.token[0]; i++)
        bus_js_fetch(b, "EVENTS", durable, filter, 500, 500, on_token_event, &w, &e);
    bus_close(b);
    snprintf(out, cap, "%s", w.token);
    return w.token[0] ? 0 : -1;
}

/* ---- fixtures ---- */

/* method path on p as the global bearer; *r the answer (caller frees). 0 when it answered want,
 * else -1 printing the answer. */
long e2e_call(const e2e_proc_t *p, const char *as, const char *method, const char *path,
              const char *body, json_t **out) {
    char url[1024];
    e2e_resp_t r;
    snprintf(url, sizeof url, "%s%s", p->base, path);
    if (out) *out = NULL;
    if (e2e_http_as(as ? as : e2e_bearer(), method, url, body ? "application/json" : NULL, body,
                    &r) != 0)
        return -1;
    long st = r.status;
    if (out) *out = json_incref(r.json);
    e2e_resp_free(&r);
    return st;
}

const char *e2e_str(const json_t *j, const char *k) {
    return json_string_value(json_object_get(j, k));
}

static int fixture_call(const e2e_proc_t *p, const char *method, const char *path, const char *body,
                        long want, e2e_resp_t *r) {
    char url[1024];
    snprintf(url, sizeof url, "%s%s", p->base, path);
    if (e2e_http(method, url, "application/json", body, r) != 0) return -1;
    if (r->status == want) return 0;
    printf("#   %s %s: %ld %s\n", method, path, r->status, r->body ? r->body : "");
    return -1;
}

static const char *fixture_str(const e2e_resp_t *r, const char *key) {
    return json_string_value(json_object_get(r->json, key));
}

int e2e_owner_exec(const char *what, const char *sql, int n, const char *const *params, char *first,
                   size_t cap) {
    err_t e = {0};
    db_pool_t *db = db_pool_open(getenv("RECIPROCAL_TEST_OWNER_URL"), 1, &e);
    db_scope_t s = {.network_admin = 1};
    db_tx_t *tx = NULL;
    int rc = -1;
    if (db && db_begin(db, &s, &tx, &e) == 0) {
        PGresult *r = db_exec(tx, sql, n, params, &e);
        if (r) {
            if (first && cap)
                snprintf(first, cap, "%s",
                         PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "");
            PQclear(r);
            rc = db_tx_commit(&tx, &e);
        }
        db_tx_rollback(&tx);
    }
    if (rc != 0) printf("#   %s: %s\n", what, e.message);
    db_pool_close(db);
    return rc;
}

/* The account row (and its role) written as the database owner; uid gets its id. */
static int account_row(const char *club_id, const char *email, const char *role, const char *pw,
                       char uid[64]) {
    err_t e = {0};
    char hash[PASSWORD_HASH_MAX], what[160];
    if (password_hash(pw, hash, &e) != 0) return -1;
    const char *p[] = {club_id, email, hash, role};
    snprintf(what, sizeof what, "account %s", email);
    return e2e_owner_exec(what,
                          "WITH u AS (INSERT INTO auth.users (club_id, email, status, "
                          "password_hash, email_verified_at) VALUES ($1::uuid, $2, 'active', "
                          "$3, now()) RETURNING club_id, id), r AS (INSERT INTO "
                          "auth.user_roles (club_id, user_id, role) SELECT club_id, id, $4 "
                          "FROM u) SELECT id FROM u",
                          4, p, uid, 64);
}

int e2e_account(const e2e_proc_t *p, const char *club_id, const char *slug, const char *email,
                const char *role, const char *pw, char *uid, char *tok) {
    char id[64], url[256], body[512];
    if (account_row(club_id, email, role, pw, id) != 0) return -1;
    if (uid) snprintf(uid, 64, "%s", id);
    if (!tok) return 0;
    snprintf(url, sizeof url, "%s/api/v1/auth/login", p->base);
    snprintf(body, sizeof body, "{\"club\":\"%s\",\"email\":\"%s\",\"password\":\"%s\"}", slug,
             email, pw);
    e2e_resp_t r;
    if (e2e_http_as(NULL, "POST", url, "application/json", body, &r) != 0) return -1;
    int ok = r.status == 200 && fixture_str(&r, "access_token");
    if (ok)
        snprintf(tok, 4096, "%s", fixture_str(&r, "access_token"));
    else
        printf("#   login %s: %ld %s\n", email, r.status, r.body ? r.body : "");
    e2e_resp_free(&r);
    return ok ? 0 : -1;
}

int e2e_member(const e2e_proc_t *p, const char *club_id, const char *category, const char *user,
               int active, const char *first, const char *last, char *id) {
    static int counter;
    char body[1024], path[256];
    e2e_resp_t r;
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"category\":\"%s\",\"expires_on\":\"2099-12-31\"%s%s%s,"
             "\"profile\":{\"first_name\":\"%s\",\"last_name\":\"%s\",\"email\":"
             "\"e2e-member-%d-%d@example.test\"}}",
             club_id, category, user ? ",\"auth_user_id\":\"" : "", user ? user : "",
             user ? "\"" : "", first, last, (int)getpid(), ++counter);
    int rc = fixture_call(p, "POST", "/api/v1/members", body, 201, &r);
    if (rc == 0) snprintf(id, 64, "%s", fixture_str(&r, "id"));
    e2e_resp_free(&r);
    if (rc != 0 || !active) return rc;
    snprintf(path, sizeof path, "/api/v1/members/%s/status", id);
    snprintf(body, sizeof body, "{\"club_id\":\"%s\",\"status\":\"active\"}", club_id);
    rc = fixture_call(p, "POST", path, body, 200, &r);
    e2e_resp_free(&r);
    return rc;
}

int e2e_club(const e2e_proc_t *p, const char *name, const char *slug, const char *extra, char *id) {
    char body[2048];
    e2e_resp_t r;
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"slug\":\"%s\",%s}", name, slug,
             extra ? extra : "\"timezone\":\"Europe/London\",\"address\":{\"country\":\"GB\"}");
    int rc = fixture_call(p, "POST", "/api/v1/clubs", body, 201, &r);
    if (rc == 0) snprintf(id, 64, "%s", fixture_str(&r, "id") ? fixture_str(&r, "id") : "");
    e2e_resp_free(&r);
    return rc == 0 && id[0] ? 0 : -1;
}

int e2e_visit_confirmed(const e2e_proc_t *p, const char *body, const char *home_tok,
                        const char *host_tok, char *vid, char *tok, size_t cap) {
    char path[256];
    json_t *v = NULL;
    long st = e2e_call(p, NULL, "POST", "/api/v1/visits", body, &v);
    if (st != 201 || !e2e_str(v, "id")) {
        printf("#   request visit: %ld\n", st);
        json_decref(v);
        return -1;
    }
    snprintf(vid, 64, "%s", e2e_str(v, "id"));
    json_decref(v);
    snprintf(path, sizeof path, "/api/v1/visits/%s/approve", vid);
    st = e2e_call(p, home_tok, "POST", path, "{}", &v);
    const char *letter = e2e_str(json_object_get(v, "loi"), "token");
    if (st == 200 && letter) snprintf(tok, cap, "%s", letter);
    json_decref(v);
    if (st != 200 || !letter) {
        printf("#   approve visit: %ld\n", st);
        return -1;
    }
    snprintf(path, sizeof path, "/api/v1/visits/%s/confirm", vid);
    st = e2e_call(p, host_tok, "POST", path, "{}", NULL);
    if (st != 200) printf("#   confirm visit: %ld\n", st);
    return st == 200 ? 0 : -1;
}

int e2e_agreement(const e2e_proc_t *p, const char *home, const char *host, const char *terms) {
    char body[2048], today[16], path[256];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    snprintf(body, sizeof body,
             "{\"club_id\":\"%s\",\"clubs\":[\"%s\",\"%s\"],\"starts_on\":\"%s\",\"terms\":{"
             "\"%s\":%s}}",
             home, home, host, today, host, terms);
    e2e_resp_t r;
    int rc = fixture_call(p, "POST", "/api/v1/agreements", body, 201, &r);
    if (rc == 0) snprintf(path, sizeof path, "/api/v1/agreements/%s/accept", fixture_str(&r, "id"));
    e2e_resp_free(&r);
    if (rc != 0) return -1;
    snprintf(body, sizeof body, "{\"club_id\":\"%s\"}", host);
    rc = fixture_call(p, "POST", path, body, 200, &r);
    if (rc == 0 && strcmp(fixture_str(&r, "status") ? fixture_str(&r, "status") : "", "active"))
        rc = -1;
    e2e_resp_free(&r);
    return rc;
}
