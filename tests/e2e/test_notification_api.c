/* test_notification_api: the notification service end to end, split: `reciprocal serve
 * --services gateway,auth,member` and `--services notification` (its own NATS user, so a
 * missing permission of its consumers, its calls to auth.delivery_token / member.get_member /
 * member.get_club or its inbox.<user> publication shows as "Not Permitted" and fails the stop),
 * with a real SMTP server (aiosmtpd, tests/services/notification/smtp_server.py). An invitation
 * over REST arrives in the SMTP server's Maildir through the notification process's consumer
 * and delivery worker; the inbox answers over REST and GraphQL through the gateway; both
 * processes stop cleanly (LeakSanitizer, no NATS refusal). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"
#include "test.h"

static e2e_proc_t g_gw, g_notify;
static pid_t g_smtp = -1;
static char g_maildir[512];

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int mails_to(const char *email) {
    char dir[600], needle[200];
    snprintf(dir, sizeof dir, "%s/new", g_maildir);
    snprintf(needle, sizeof needle, "To: %s", email);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
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
        if (strstr(buf, needle)) n++;
    }
    closedir(d);
    return n;
}

static int req(const char *method, const char *path, const char *body, e2e_resp_t *r) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", g_gw.base, path);
    return e2e_http(method, url, body ? "application/json" : NULL, body, r);
}

static void test_split_invite_mail_and_inbox(void) {
    const char *tmp = TEST_ENV("RECIPROCAL_TEST_TMP");
    const char *root = TEST_ENV("RECIPROCAL_TEST_ROOT");
    REQUIRE(tmp && root);
    mkdir(tmp, 0700);
    snprintf(g_maildir, sizeof g_maildir, "%s/e2e-mail-%d", tmp, (int)getpid());
    int port = e2e_free_port();
    char script[512], portstr[16], smtp_env[96];
    snprintf(script, sizeof script, "%s/tests/services/notification/smtp_server.py", root);
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(smtp_env, sizeof smtp_env, "RECIPROCAL_SMTP_URL=smtp://127.0.0.1:%d", port);
    fflush(stdout);
    g_smtp = fork();
    if (g_smtp == 0) {
        execl("/usr/bin/python3", "python3", script, portstr, g_maildir, (char *)NULL);
        _exit(127);
    }
    const char *env[] = {smtp_env, "RECIPROCAL_NOTIFY_POLL_MS=100", NULL};
    REQUIRE(e2e_start(&g_notify, "notification", 0, 0, env) == 0);
    REQUIRE(e2e_start(&g_gw, "gateway,auth,member", 0, 1, env) == 0);
    REQUIRE(e2e_login_admin(&g_gw, NULL, NULL) == 0);

    char slug[64], body[512], email[128], club[64] = "";
    e2e_resp_t r;
    snprintf(slug, sizeof slug, "notify-e2e-%d", (int)getpid());
    snprintf(body, sizeof body,
             "{\"name\":\"Notify E2E Club\",\"slug\":\"%s\",\"timezone\":\"UTC\",\"address\":{"
             "\"country\":\"GB\"}}",
             slug);
    REQUIRE(req("POST", "/api/v1/clubs", body, &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    const char *id = json_string_value(json_object_get(r.json, "id"));
    if (id) snprintf(club, sizeof club, "%s", id);
    e2e_resp_free(&r);
    REQUIRE(club[0]);
    snprintf(email, sizeof email, "e2e-invitee-%d@notify.example", (int)getpid());
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"role\":\"member\",\"club_id\":\"%s\"}", email,
             club);
    REQUIRE(req("POST", "/api/v1/auth/invites", body, &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    e2e_resp_free(&r);
    /* relay -> JetStream -> notification_auth -> messages -> worker -> SMTP */
    int got = 0;
    for (int i = 0; i < 300 && !got; i++) {
        got = mails_to(email);
        if (!got) sleep_ms(100);
    }
    CHECK_EQ_INT(got, 1);

    /* the inbox through the gateway, REST and GraphQL (the notification process answers) */
    REQUIRE(req("GET", "/api/v1/notifications/inbox?limit=5", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_is_integer(json_object_get(r.json, "unread")));
    e2e_resp_free(&r);
    REQUIRE(req("POST", "/graphql",
                "{\"query\":\"{ me { notifications(first: 5) { unread items { id "
                "status } } } }\"}",
                &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    json_t *n =
        json_object_get(json_object_get(json_object_get(r.json, "data"), "me"), "notifications");
    CHECK(json_is_integer(json_object_get(n, "unread")));
    CHECK(json_is_array(json_object_get(n, "items")));
    if (!n) printf("#   %s\n", r.body);
    e2e_resp_free(&r);
    REQUIRE(req("POST", "/graphql",
                "{\"query\":\"mutation { markNotificationRead(input: {id: "
                "\\\"00000000-0000-4000-8000-000000000001\\\"}) { notification { id } userErrors "
                "{ code } } }\"}",
                &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.body && strstr(r.body, "not_found") != NULL);
    e2e_resp_free(&r);
}

static void test_stop(void) {
    CHECK_EQ_INT(e2e_stop(&g_gw), 0);
    CHECK_EQ_INT(e2e_stop(&g_notify), 0);
}

int main(void) {
    RUN(test_split_invite_mail_and_inbox);
    RUN(test_stop);
    if (g_smtp > 0) {
        kill(g_smtp, SIGTERM);
        waitpid(g_smtp, NULL, 0);
    }
    TEST_DONE();
}
