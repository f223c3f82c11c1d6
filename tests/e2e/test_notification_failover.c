/* test_notification_failover: the secondary SMTP relay (RECIPROCAL_SMTP_SECONDARY_URL, docs/
 * notification.md "Secondary SMTP relay"). Two real SMTP servers (aiosmtpd,
 * tests/services/notification/smtp_server.py), the first stopped (connection refused):
 * `reciprocal serve --services notification` with the first as primary and the second as
 * secondary sends every queued mail through the second once the primary failed
 * RECIPROCAL_SMTP_FAILOVER_AFTER (3) times in a row; the rows are sent with provider_ref
 * "smtp:secondary:<id>", nothing is undelivered. Without a secondary the same mails stay queued
 * (retried), none arrives. Counts are scoped to this run's recipients. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "support/e2e.h"
#include "test.h"

static pid_t g_smtp[2] = {-1, -1};
static char g_maildir[2][512], g_primary_env[96], g_secondary_env[96];
static db_pool_t *g_owner;

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long owner_count(const char *sql, const char *a) {
    db_scope_t s = {.network_admin = 1, .relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    long long v = -1;
    if (db_begin(g_owner, &s, &tx, &e) != 0) return -1;
    PGresult *r = db_exec(tx, sql, 1, (const char *[]){a}, &e);
    if (!r) printf("#   owner: %s\n", e.message);
    if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    db_tx_finish(&tx, r ? 0 : -1, NULL, &e);
    return v;
}

/* Mails in Maildir k addressed to "<prefix>...". */
static int count_mails(int k, const char *prefix) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/new", g_maildir[k]);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[1200], buf[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = '\0';
        const char *to = strstr(buf, "To: ");
        if (to && strncmp(to + 4, prefix, strlen(prefix)) == 0) total++;
    }
    closedir(d);
    return total;
}

/* n mails queued for "<prefix><i>@failover.example" (the visit_cancelled template). */
static int queue_mails(const char *prefix, int n) {
    db_scope_t s = {.network_admin = 1, .relay = 1};
    db_tx_t *tx = NULL;
    err_t e = {0};
    char nstr[16];
    snprintf(nstr, sizeof nstr, "%d", n);
    if (db_begin(g_owner, &s, &tx, &e) != 0) return -1;
    long long k = db_exec_cmd(
        tx,
        "INSERT INTO notification.messages (club_id, event_id, event_type, template, channel, "
        "recipient, critical, vars) SELECT gen_random_uuid(), gen_random_uuid(), "
        "'visit.cancelled', 'visit_cancelled', 'email', $1 || i || '@failover.example', true, "
        "jsonb_build_object('member', jsonb_build_object('first_name', 'Rita'), 'host_club', "
        "jsonb_build_object('name', 'Failover Club')) FROM generate_series(0, $2::int - 1) i",
        2, (const char *[]){prefix, nstr}, &e);
    if (k < 0) printf("#   queue: %s\n", e.message);
    return db_tx_finish(&tx, k == n ? 0 : -1, NULL, &e);
}

static pid_t start_smtp(const char *root, int port, const char *maildir) {
    char script[512], portstr[16];
    snprintf(script, sizeof script, "%s/tests/services/notification/smtp_server.py", root);
    snprintf(portstr, sizeof portstr, "%d", port);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/usr/bin/python3", "python3", script, portstr, maildir, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void test_setup(void) {
    const char *tmp = TEST_ENV("RECIPROCAL_TEST_TMP");
    const char *root = TEST_ENV("RECIPROCAL_TEST_ROOT");
    const char *owner = TEST_ENV("RECIPROCAL_TEST_OWNER_URL");
    REQUIRE(tmp && root && owner);
    mkdir(tmp, 0700);
    err_t e = {0};
    g_owner = db_pool_open(owner, 1, &e);
    REQUIRE(g_owner);
    int port[2];
    for (int k = 0; k < 2; k++) {
        snprintf(g_maildir[k], sizeof g_maildir[k], "%s/failover-mail-%d-%d", tmp, (int)getpid(),
                 k);
        port[k] = e2e_free_port();
        REQUIRE(port[k] > 0);
        g_smtp[k] = start_smtp(root, port[k], g_maildir[k]);
    }
    snprintf(g_primary_env, sizeof g_primary_env, "RECIPROCAL_SMTP_URL=smtp://127.0.0.1:%d",
             port[0]);
    snprintf(g_secondary_env, sizeof g_secondary_env,
             "RECIPROCAL_SMTP_SECONDARY_URL=smtp://127.0.0.1:%d", port[1]);
    sleep_ms(1500);
    /* the primary goes down: its port refuses connections from now on */
    kill(g_smtp[0], SIGTERM);
    waitpid(g_smtp[0], NULL, 0);
    g_smtp[0] = -1;
}

/* Without a secondary: the primary refuses, the mails are retried and none arrives anywhere. */
static void test_primary_down_without_secondary(void) {
    char prefix[64], like[80];
    snprintf(prefix, sizeof prefix, "alone-%d-", (int)getpid());
    snprintf(like, sizeof like, "%s%%", prefix);
    REQUIRE(queue_mails(prefix, 4) == 0);
    const char *env[] = {g_primary_env, "RECIPROCAL_NOTIFY_POLL_MS=50",
                         "RECIPROCAL_NOTIFY_RETRY_BASE_SECONDS=1", NULL};
    e2e_proc_t p;
    REQUIRE(e2e_start(&p, "notification", 0, 0, env) == 0);
    long long tried = 0;
    for (int i = 0; i < 600 && tried < 4; i++) {
        sleep_ms(50);
        tried = owner_count("SELECT count(*) FROM notification.messages WHERE recipient LIKE $1 "
                            "AND tries >= 2",
                            like);
    }
    CHECK(e2e_stop(&p) == 0);
    CHECK_EQ_INT(tried, 4);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient LIKE $1 "
                             "AND status = 'queued'",
                             like),
                 4);
    CHECK_EQ_INT(count_mails(1, prefix), 0);
    /* not to be sent by the next test's process */
    owner_count("WITH d AS (DELETE FROM notification.messages WHERE recipient LIKE $1 RETURNING "
                "1) SELECT count(*) FROM d",
                like);
}

/* With the secondary: after 3 consecutive refusals of the primary every mail goes through the
 * second server; all sent, provider_ref smtp:secondary:<id>, each arrived exactly once. */
static void test_failover_to_secondary(void) {
    char prefix[64], like[80];
    snprintf(prefix, sizeof prefix, "failover-%d-", (int)getpid());
    snprintf(like, sizeof like, "%s%%", prefix);
    int n = 12;
    REQUIRE(queue_mails(prefix, n) == 0);
    const char *env[] = {g_primary_env,
                         g_secondary_env,
                         "RECIPROCAL_SMTP_FAILOVER_AFTER=3",
                         "RECIPROCAL_NOTIFY_POLL_MS=50",
                         "RECIPROCAL_NOTIFY_RETRY_BASE_SECONDS=1",
                         NULL};
    e2e_proc_t p;
    REQUIRE(e2e_start(&p, "notification", 0, 0, env) == 0);
    long long sent = 0;
    for (int i = 0; i < 1200 && sent < n; i++) {
        sleep_ms(50);
        sent = owner_count("SELECT count(*) FROM notification.messages WHERE recipient LIKE $1 "
                           "AND status = 'sent'",
                           like);
    }
    CHECK(e2e_stop(&p) == 0);
    if (sent != n) { /* what the rows say */
        db_scope_t sc = {.network_admin = 1, .relay = 1};
        db_tx_t *tx = NULL;
        err_t e = {0};
        if (db_begin(g_owner, &sc, &tx, &e) == 0) {
            PGresult *r = db_exec(tx,
                                  "SELECT status || ' tries ' || tries || ' ' || "
                                  "coalesce(last_error, '') FROM notification.messages WHERE "
                                  "recipient LIKE $1",
                                  1, (const char *[]){like}, &e);
            for (int i = 0; r && i < PQntuples(r); i++)
                printf("#   %s\n", PQgetvalue(r, i, 0));
            PQclear(r);
            db_rollback(tx);
        }
    }
    CHECK_EQ_INT(sent, n);
    CHECK_EQ_INT(owner_count("SELECT count(*) FROM notification.messages WHERE recipient LIKE $1 "
                             "AND provider_ref LIKE 'smtp:secondary:%'",
                             like),
                 n);
    CHECK_EQ_INT(count_mails(1, prefix), n);
    CHECK_EQ_INT(count_mails(0, prefix), 0);
}

int main(void) {
    RUN(test_setup);
    if (g_owner && g_smtp[1] > 0) {
        RUN(test_primary_down_without_secondary);
        RUN(test_failover_to_secondary);
    }
    for (int k = 0; k < 2; k++)
        if (g_smtp[k] > 0) {
            kill(g_smtp[k], SIGTERM);
            waitpid(g_smtp[k], NULL, 0);
        }
    db_pool_close(g_owner);
    TEST_DONE();
}
