/* End-to-end tests of revocation and account linking (issue 9, docs/security.md A1-A4), in
 * split mode: the auth and member services in one process and TWO gateway processes (A and
 * B, `reciprocal serve --services gateway`) that only meet over NATS:
 *   - logout through gateway A: the access token is refused at once on gateway B (and on A),
 *     also by a third gateway started afterwards (it reads the recent revocations); disabling
 *     a user and an admin's revoke-sessions do the same. "At once" is the NATS delivery to
 *     the other gateway's subscription thread: the tests wait for it (up to 1 s) and print it
 *     (a few ms);
 *   - a password change ends the user's other sessions (refresh and access token), the current
 *     one stays;
 *   - deactivating a club ends its sessions: access token refused, refresh and login refused,
 *     creating members refused; activating it lets its users sign in again;
 *   - linking a member to an account: staff 403, unknown id 422, another club's account 422
 *     (also in a CSV import), an account already linked to another member 409, each naming
 *     auth_user_id.
 * Club accounts are written directly as the database owner (password hashed with the auth
 * service's own function), so the tests do not depend on how invitations reach the invitee. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"
#include "test.h"

static e2e_proc_t g_svc, g_a, g_b;
static char g_admin[4096], g_admin_email[128], g_admin_pw[128];
static const char *g_pw = "correct horse battery staple 42";

static int req_on(const e2e_proc_t *p, const char *bearer, const char *method, const char *path,
                  const char *body, e2e_resp_t *r) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", p->base, path);
    return e2e_http_as(bearer, method, url, body ? "application/json" : NULL, body, r);
}
static const char *jstr(const e2e_resp_t *r, const char *k) {
    return json_string_value(json_object_get(r->json, k));
}
static const char *err_code(const e2e_resp_t *r) {
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}
static const char *err_field(const e2e_resp_t *r) {
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "field"));
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* GET /api/v1/auth/me on p with token: the status. */
static long me_status(const e2e_proc_t *p, const char *token, char *code, size_t cap) {
    e2e_resp_t r;
    if (req_on(p, token, "GET", "/api/v1/auth/me", NULL, &r) != 0) return -1;
    long st = r.status;
    if (code) snprintf(code, cap, "%s", err_code(&r) ? err_code(&r) : "");
    e2e_resp_free(&r);
    return st;
}

/* Signs in on p; access/refresh (4096/128 bytes, may be NULL) and the session id (64). */
static int login(const e2e_proc_t *p, const char *slug, const char *email, const char *pw,
                 char *access, char *refresh, char *sid) {
    char body[512];
    e2e_resp_t r;
    if (slug)
        snprintf(body, sizeof body, "{\"club\":\"%s\",\"email\":\"%s\",\"password\":\"%s\"}", slug,
                 email, pw);
    else
        snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, pw);
    if (req_on(p, NULL, "POST", "/api/v1/auth/login", body, &r) != 0) return -1;
    int ok = r.status == 200 && jstr(&r, "access_token");
    if (ok) {
        if (access) snprintf(access, 4096, "%s", jstr(&r, "access_token"));
        if (refresh) snprintf(refresh, 128, "%s", jstr(&r, "refresh_token"));
        if (sid) snprintf(sid, 64, "%s", jstr(&r, "session_id"));
    }
    int st = (int)r.status;
    e2e_resp_free(&r);
    return ok ? 0 : st;
}

/* The revocation reaches the other gateway over NATS asynchronously (the auth service has
 * flushed it to the server before answering, the gateway's subscription applies it on its own
 * thread): waits up to 1 s for p to refuse token with token_revoked; prints and returns the
 * milliseconds it took (-1 = still accepted). */
static double refused_after_ms(const e2e_proc_t *p, const char *token, const char *what) {
    double t0 = now_ms();
    char code[64] = "";
    for (int i = 0; i < 200; i++) {
        long st = me_status(p, token, code, sizeof code);
        if (st == 401 && strcmp(code, "token_revoked") == 0) {
            double ms = now_ms() - t0;
            printf("#   %s: refused %.1f ms later (request %d)\n", what, ms, i + 1);
            return ms;
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    printf("#   %s: still accepted after 1 s (last: %s)\n", what, code);
    return -1;
}

static long refresh_status(const char *refresh) {
    char body[256];
    e2e_resp_t r;
    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", refresh);
    if (req_on(&g_a, NULL, "POST", "/api/v1/auth/refresh", body, &r) != 0) return -1;
    long st = r.status;
    e2e_resp_free(&r);
    return st;
}

/* A club of the test (e2e_club as the network administrator: requests name their token, there
 * is no global bearer). id_out: 64 bytes. */
static int create_club(const char *slug, char *id_out) {
    e2e_set_bearer(g_admin);
    int rc = e2e_club(&g_a, "Revocation Club", slug, E2E_CLUB_UTC, id_out);
    e2e_set_bearer(NULL);
    return rc;
}

/* An active account of club with role, written as the owner (e2e_account, no sign-in). id_out:
 * 64 bytes. */
static int create_user(const char *club, const char *email, const char *role, char *id_out) {
    return e2e_account(&g_a, club, NULL, email, role, g_pw, id_out, NULL);
}

/* ---- tests ---- */

static void test_start(void) {
    REQUIRE(e2e_start(&g_svc, "member,auth", 0, 0, NULL) == 0);
    REQUIRE(e2e_start(&g_a, "gateway", 0, 1, NULL) == 0);
    REQUIRE(e2e_start(&g_b, "gateway", 0, 1, NULL) == 0);
    REQUIRE(e2e_login_admin(&g_a, g_admin_email, g_admin_pw) == 0);
    snprintf(g_admin, sizeof g_admin, "%s", e2e_bearer());
    e2e_set_bearer(NULL);
}

/* Logout through gateway A: gateway B refuses the token at once (it learnt it over NATS). */
static void test_logout_refused_on_other_gateway(void) {
    char tok[4096], code[64];
    REQUIRE(login(&g_a, NULL, g_admin_email, g_admin_pw, tok, NULL, NULL) == 0);
    CHECK_EQ_INT(me_status(&g_b, tok, NULL, 0), 200); /* verified and cached on B */
    CHECK_EQ_INT(me_status(&g_a, tok, NULL, 0), 200);
    e2e_resp_t r;
    REQUIRE(req_on(&g_a, tok, "POST", "/api/v1/auth/logout", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 204);
    e2e_resp_free(&r);
    CHECK(refused_after_ms(&g_b, tok, "logout through A, gateway B") >= 0);
    CHECK_EQ_INT(me_status(&g_a, tok, code, sizeof code), 401);
    CHECK_STR(code, "token_revoked");

    /* a gateway started afterwards reads the recent revocations before accepting tokens */
    e2e_proc_t c;
    REQUIRE(e2e_start(&c, "gateway", 0, 1, NULL) == 0);
    CHECK_EQ_INT(me_status(&c, tok, code, sizeof code), 401);
    CHECK_STR(code, "token_revoked");
    CHECK_EQ_INT(e2e_stop(&c), 0);
}

/* Disabling a user, and an admin's revoke-sessions, end the access tokens at once too. */
static void test_disable_and_admin_revoke(void) {
    char club[64], slug[64], email[128], uid[64], tok[4096], code[64], path[256];
    e2e_resp_t r;
    snprintf(slug, sizeof slug, "rev-d-%d", (int)getpid());
    snprintf(email, sizeof email, "staff-d-%d@example.test", (int)getpid());
    REQUIRE(create_club(slug, club) == 0);
    REQUIRE(create_user(club, email, "club_staff", uid) == 0);
    REQUIRE(login(&g_a, slug, email, g_pw, tok, NULL, NULL) == 0);
    CHECK_EQ_INT(me_status(&g_b, tok, NULL, 0), 200);
    snprintf(path, sizeof path, "/api/v1/auth/users/%s/revoke-sessions", uid);
    REQUIRE(req_on(&g_a, g_admin, "POST", path, "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    CHECK(refused_after_ms(&g_b, tok, "admin revoke-sessions, gateway B") >= 0);

    REQUIRE(login(&g_a, slug, email, g_pw, tok, NULL, NULL) == 0);
    CHECK_EQ_INT(me_status(&g_b, tok, NULL, 0), 200);
    snprintf(path, sizeof path, "/api/v1/auth/users/%s/disable", uid);
    REQUIRE(req_on(&g_a, g_admin, "POST", path, "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    CHECK(refused_after_ms(&g_b, tok, "user disabled, gateway B") >= 0);
    CHECK_EQ_INT(me_status(&g_a, tok, code, sizeof code), 401);
    CHECK_STR(code, "token_revoked");
}

/* A password change ends every other session of the user; the current one stays. */
static void test_password_change_ends_other_sessions(void) {
    char club[64], slug[64], email[128], uid[64], t1[4096], t2[4096], r1[128], r2[128], code[64];
    e2e_resp_t r;
    snprintf(slug, sizeof slug, "rev-p-%d", (int)getpid());
    snprintf(email, sizeof email, "member-p-%d@example.test", (int)getpid());
    REQUIRE(create_club(slug, club) == 0);
    REQUIRE(create_user(club, email, "member", uid) == 0);
    REQUIRE(login(&g_a, slug, email, g_pw, t1, r1, NULL) == 0);
    REQUIRE(login(&g_b, slug, email, g_pw, t2, r2, NULL) == 0); /* "the thief's" session */
    CHECK_EQ_INT(me_status(&g_b, t2, NULL, 0), 200);
    const char *np = "a brand new passphrase 77";
    char body[256];
    snprintf(body, sizeof body, "{\"current_password\":\"%s\",\"new_password\":\"%s\"}", g_pw, np);
    REQUIRE(req_on(&g_a, t1, "POST", "/api/v1/auth/password/change", body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "sessions_revoked")), 1);
    e2e_resp_free(&r);
    CHECK(refused_after_ms(&g_b, t2, "password change, the other session on gateway B") >= 0);
    CHECK_EQ_INT(me_status(&g_b, t2, code, sizeof code), 401);
    CHECK_EQ_INT(refresh_status(r2), 401);           /* and its refresh token */
    CHECK_EQ_INT(me_status(&g_b, t1, NULL, 0), 200); /* the current session stays */
    CHECK_EQ_INT(refresh_status(r1), 200);
    CHECK_EQ_INT(login(&g_a, slug, email, np, NULL, NULL, NULL), 0);
}

/* Deactivating a club ends its sessions: access token, refresh, login and writes refused. */
static void test_suspended_club(void) {
    char club[64], slug[64], email[128], uid[64], tok[4096], ref[128], code[64], path[256];
    e2e_resp_t r;
    snprintf(slug, sizeof slug, "rev-s-%d", (int)getpid());
    snprintf(email, sizeof email, "admin-s-%d@example.test", (int)getpid());
    REQUIRE(create_club(slug, club) == 0);
    REQUIRE(create_user(club, email, "club_admin", uid) == 0);
    REQUIRE(login(&g_a, slug, email, g_pw, tok, ref, NULL) == 0);
    const char *member = "{\"category\":\"full\",\"profile\":{\"first_name\":\"Ada\","
                         "\"last_name\":\"Lovelace\"}}";
    REQUIRE(req_on(&g_b, tok, "POST", "/api/v1/members", member, &r) == 0);
    CHECK_EQ_INT(r.status, 201);
    e2e_resp_free(&r);

    snprintf(path, sizeof path, "/api/v1/clubs/%s/deactivate", club);
    REQUIRE(req_on(&g_a, g_admin, "POST", path, "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(jstr(&r, "status"), "suspended");
    e2e_resp_free(&r);
    CHECK(refused_after_ms(&g_b, tok, "club deactivated, gateway B") >= 0);
    REQUIRE(req_on(&g_b, tok, "POST", "/api/v1/members", member, &r) == 0);
    CHECK_EQ_INT(r.status, 401);
    CHECK_STR(err_code(&r), "token_revoked");
    e2e_resp_free(&r);
    CHECK_EQ_INT(me_status(&g_a, tok, code, sizeof code), 401);
    CHECK_EQ_INT(refresh_status(ref), 401);
    CHECK_EQ_INT(login(&g_a, slug, email, g_pw, NULL, NULL, NULL), 401);

    /* active again: its users sign in again, and the new token works */
    snprintf(path, sizeof path, "/api/v1/clubs/%s/activate", club);
    REQUIRE(req_on(&g_a, g_admin, "POST", path, "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    sleep(1); /* a token issued in the suspension's second is refused (iat <= suspension) */
    REQUIRE(login(&g_a, slug, email, g_pw, tok, NULL, NULL) == 0);
    CHECK_EQ_INT(me_status(&g_b, tok, NULL, 0), 200);
}

/* Linking a member to an account: admin only, an account of the same club, not linked yet. */
static void test_link_account(void) {
    char club[64], slug[64], other[64], oslug[64], email[128], staff_id[64], admin_id[64],
        outsider[64], staff[4096], admin[4096], m1[64], m2[64], path[256], body[256];
    e2e_resp_t r;
    int pid = (int)getpid();
    snprintf(slug, sizeof slug, "rev-l-%d", pid);
    snprintf(oslug, sizeof oslug, "rev-o-%d", pid);
    REQUIRE(create_club(slug, club) == 0);
    REQUIRE(create_club(oslug, other) == 0);
    snprintf(email, sizeof email, "staff-l-%d@example.test", pid);
    REQUIRE(create_user(club, email, "club_staff", staff_id) == 0);
    REQUIRE(login(&g_a, slug, email, g_pw, staff, NULL, NULL) == 0);
    snprintf(email, sizeof email, "admin-l-%d@example.test", pid);
    REQUIRE(create_user(club, email, "club_admin", admin_id) == 0);
    REQUIRE(login(&g_a, slug, email, g_pw, admin, NULL, NULL) == 0);
    snprintf(email, sizeof email, "outsider-%d@example.test", pid);
    REQUIRE(create_user(other, email, "member", outsider) == 0);
    const char *mk = "{\"category\":\"full\",\"profile\":{\"first_name\":\"Grace\","
                     "\"last_name\":\"Hopper\"}}";
    REQUIRE(req_on(&g_a, admin, "POST", "/api/v1/members", mk, &r) == 0);
    REQUIRE(r.status == 201 && jstr(&r, "id"));
    snprintf(m1, sizeof m1, "%s", jstr(&r, "id"));
    e2e_resp_free(&r);
    REQUIRE(req_on(&g_a, admin, "POST", "/api/v1/members", mk, &r) == 0);
    REQUIRE(r.status == 201 && jstr(&r, "id"));
    snprintf(m2, sizeof m2, "%s", jstr(&r, "id"));
    e2e_resp_free(&r);

    /* staff links its own account to a member (then /members/me/export would be that member) */
    snprintf(path, sizeof path, "/api/v1/members/%s", m1);
    snprintf(body, sizeof body, "{\"auth_user_id\":\"%s\"}", staff_id);
    REQUIRE(req_on(&g_a, staff, "PATCH", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 403);
    CHECK_STR(err_field(&r), "auth_user_id");
    e2e_resp_free(&r);
    REQUIRE(req_on(&g_a, staff, "GET", "/api/v1/members/me/export", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404); /* not linked */
    e2e_resp_free(&r);
    /* ... nor on create */
    snprintf(body, sizeof body,
             "{\"category\":\"full\",\"auth_user_id\":\"%s\",\"profile\":{\"first_name\":\"X\","
             "\"last_name\":\"Y\"}}",
             staff_id);
    REQUIRE(req_on(&g_a, staff, "POST", "/api/v1/members", body, &r) == 0);
    CHECK_EQ_INT(r.status, 403);
    CHECK_STR(err_field(&r), "auth_user_id");
    e2e_resp_free(&r);
    /* an id that is no account */
    snprintf(body, sizeof body, "{\"auth_user_id\":\"%s\"}",
             "7a1e3c52-9b7d-4c1e-8f2a-0d4b6e8f1a2c");
    REQUIRE(req_on(&g_a, admin, "PATCH", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 422);
    CHECK_STR(err_field(&r), "auth_user_id");
    e2e_resp_free(&r);
    /* another club's account */
    snprintf(body, sizeof body, "{\"auth_user_id\":\"%s\"}", outsider);
    REQUIRE(req_on(&g_a, admin, "PATCH", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 422);
    CHECK_STR(err_field(&r), "auth_user_id");
    e2e_resp_free(&r);
    /* the admin links the staff account: fine; linking it to a second member: 409 */
    snprintf(body, sizeof body, "{\"auth_user_id\":\"%s\"}", staff_id);
    REQUIRE(req_on(&g_a, admin, "PATCH", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(jstr(&r, "auth_user_id"), staff_id);
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/members/%s", m2);
    REQUIRE(req_on(&g_a, admin, "PATCH", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 409);
    CHECK_STR(err_field(&r), "auth_user_id");
    e2e_resp_free(&r);
    /* staff may still patch other fields of the linked member, re-sending the same link */
    snprintf(path, sizeof path, "/api/v1/members/%s", m1);
    snprintf(body, sizeof body, "{\"auth_user_id\":\"%s\",\"category\":\"social\"}", staff_id);
    REQUIRE(req_on(&g_a, staff, "PATCH", path, body, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    e2e_resp_free(&r);
    /* and staff cannot unlink it either */
    REQUIRE(req_on(&g_a, staff, "PATCH", path, "{\"auth_user_id\":null}", &r) == 0);
    CHECK_EQ_INT(r.status, 403);
    CHECK_STR(err_field(&r), "auth_user_id");
    e2e_resp_free(&r);
    /* a CSV import (member:admin) links only accounts of the club: line 3 names another club's */
    char csv[512];
    snprintf(csv, sizeof csv,
             "{\"csv\":\"member_number,category,first_name,last_name,auth_user_id\\nL-1,full,"
             "Lin,Ok,%s\\nL-2,full,Lou,Bad,%s\\n\",\"dry_run\":true}",
             admin_id, outsider);
    REQUIRE(req_on(&g_a, admin, "POST", "/api/v1/members/import", csv, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    json_t *errs = json_object_get(r.json, "errors");
    CHECK_EQ_INT(json_array_size(errs), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(errs, 0), "line")), 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(errs, 0), "column")),
              "auth_user_id");
    if (json_array_size(errs) != 1) printf("#   %s\n", r.body);
    e2e_resp_free(&r);
}

static void test_stop(void) {
    CHECK_EQ_INT(e2e_stop(&g_b), 0);
    CHECK_EQ_INT(e2e_stop(&g_a), 0);
    CHECK_EQ_INT(e2e_stop(&g_svc), 0);
}

int main(void) {
    RUN(test_start);
    if (test_fails_ == 0) {
        RUN(test_logout_refused_on_other_gateway);
        RUN(test_disable_and_admin_revoke);
        RUN(test_password_change_ends_other_sessions);
        RUN(test_suspended_club);
        RUN(test_link_account);
        RUN(test_stop);
    }
    TEST_DONE();
}
