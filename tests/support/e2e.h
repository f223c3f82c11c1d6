/* e2e: test support for end-to-end tests: start the real `reciprocal` binary (the sanitized
 * build) as a child process against the harness's PostgreSQL and NATS, wait until it is ready,
 * talk HTTP to it with libcurl like a client, and stop it with SIGTERM checking it exits 0
 * (so leaks found by LeakSanitizer at exit fail the test). */
#ifndef TESTS_SUPPORT_E2E_H
#define TESTS_SUPPORT_E2E_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct e2e_proc {
    pid_t pid;
    int port;
    char base[64]; /* http://127.0.0.1:PORT */
    char log_path[512];
} e2e_proc_t;

typedef struct e2e_resp {
    long status;
    char *body;    /* NUL-terminated */
    json_t *json;  /* parsed body or NULL */
    char *headers; /* raw response headers */
} e2e_resp_t;

/* A free TCP port on 127.0.0.1. */
int e2e_free_port(void);
/* 1 when something answers on 127.0.0.1:port. */
int e2e_port_open(int port);
/* The password of NATS user `user` in this test run (tests/run.sh exports one per user as
 * RECIPROCAL_TEST_NATS_PASSWORD_<USER>); -1 when there is none. */
int e2e_nats_password(const char *user, char *out, size_t cap);
/* Starts `reciprocal serve --services <services>` (NULL = default) as the NATS user of those
 * services ("all", or the list joined by "-"). extra_env: NULL-terminated "NAME=value" list added
 * to the environment. Waits for /health/ready when wait_port != 0. Returns 0 or -1 (the log is
 * printed on failure). */
int e2e_start(e2e_proc_t *p, const char *services, int port, int wait_ready,
              const char *const *extra_env);
/* The split deployment most notification e2e tests run: `serve --services notification` (not
 * waited for: it has no HTTP routes of its own) beside `serve --services <gw_services>` (waited
 * for /health/ready), both with extra_env, then e2e_login_admin on gw. 0 or -1 (printing why). */
int e2e_start_split(e2e_proc_t *notify, e2e_proc_t *gw, const char *gw_services,
                    const char *const *extra_env);
/* SIGTERM, wait; returns the exit status (0 = clean) or -1. Prints the log when not clean. A
 * server whose log shows a NATS "Not Permitted" (its NATS user was refused a subject it uses,
 * docs/security.md N1) counts as not clean (1). */
int e2e_stop(e2e_proc_t *p);
/* Runs the binary with args (argv[0] excluded), returns exit status; output in *out (malloc). */
int e2e_run(const char *const *args, const char *const *extra_env, char **out);

/* One HTTP request. body may be NULL; content_type NULL = none. Sends
 * `Authorization: Bearer <token>` when a bearer token is set (e2e_set_bearer / e2e_login_admin). */
int e2e_http(const char *method, const char *url, const char *content_type, const char *body,
             e2e_resp_t *r);
/* The same with an explicit bearer token (NULL or "" = no Authorization header). */
int e2e_http_as(const char *bearer, const char *method, const char *url, const char *content_type,
                const char *body, e2e_resp_t *r);

/* One more header line ("Name: value") every request sends from now on; NULL or "" = none. */
void e2e_set_extra_header(const char *line);
/* The global bearer token e2e_http sends (copied; NULL clears). e2e_bearer() is "" when none. */
void e2e_set_bearer(const char *token);
const char *e2e_bearer(void);
/* Auth bootstrap (issue 3): creates a fresh network administrator with
 * `reciprocal auth create-admin` (through e2e_run; unique email per call), signs in over HTTP
 * on p and makes the access token the global bearer. Call it once after the server started.
 * email_out/password_out (may be NULL) receive the credentials (128 bytes each). 0 or -1
 * (printing why). */
int e2e_login_admin(const e2e_proc_t *p, char *email_out, char *password_out);
void e2e_resp_free(e2e_resp_t *r);
/* A JSON request to p: method path (e.g. "/api/v1/visits") as bearer token `as` (NULL = the global
 * bearer, "" = anonymous) with body (JSON text, NULL = none). Returns the status, or -1 when no
 * answer came; *out (out may be NULL) gets the answer's JSON (new reference, NULL when not JSON).
 */
long e2e_call(const e2e_proc_t *p, const char *as, const char *method, const char *path,
              const char *body, json_t **out);
/* The string member k of object j, or NULL. */
const char *e2e_str(const json_t *j, const char *k);
/* Header value (case-insensitive) from r->headers, copied into buf; NULL when absent. */
const char *e2e_header(const e2e_resp_t *r, const char *name, char *buf, size_t cap);

/* One SQL statement as the database owner (RECIPROCAL_TEST_OWNER_URL) in the network
 * administrator's scope, in a transaction of its own that commits; first (cap > 0; may be NULL)
 * gets the first column of the first row ("" when none). 0, or -1 printing "what: why". */
int e2e_owner_exec(const char *what, const char *sql, int n, const char *const *params, char *first,
                   size_t cap);

/* Fixtures the e2e tests share (the REST calls as the global bearer, e2e_login_admin's):
 * e2e_account: an active account (email verified) of club_id with role and password pw, written
 *   as the database owner (RECIPROCAL_TEST_OWNER_URL), then signed in on p as club slug; uid
 *   (64 bytes, may be NULL) gets its id, tok (4096 bytes, may be NULL: no sign-in) its access
 *   token.
 * e2e_member: a member of club_id (category, linked to auth user `user` or NULL, expires
 *   2099-12-31, profile first/last name and a unique email), set active when active; id gets
 *   its id (64 bytes).
 * e2e_agreement: an agreement of home and host from today with host's terms (a JSON object
 *   text), proposed by home and accepted by host: active.
 * e2e_club: a club created over REST (POST /api/v1/clubs) with name and slug (plain text, no
 *   quotes) and the further body members extra (JSON members without braces: timezone,
 *   address, facilities...; NULL = "timezone":"Europe/London","address":{"country":"GB"}); id
 *   gets its id (64 bytes).
 * All return 0, or -1 (printing the refused answer). */
int e2e_account(const e2e_proc_t *p, const char *club_id, const char *slug, const char *email,
                const char *role, const char *pw, char *uid, char *tok);
int e2e_member(const e2e_proc_t *p, const char *club_id, const char *category, const char *user,
               int active, const char *first, const char *last, char *id);
int e2e_agreement(const e2e_proc_t *p, const char *home, const char *host, const char *terms);
int e2e_club(const e2e_proc_t *p, const char *name, const char *slug, const char *extra, char *id);
/* A visit requested with body (POST /api/v1/visits as the global bearer: JSON naming club_id,
 * member_id, host_club_id, the dates...), approved by the home club's staff token home_tok and
 * confirmed by the host's host_tok: vid (64 bytes) gets its id, tok (cap bytes) its letter
 * (loi.token) for the check-in. 0, or -1 (printing the refused step). */
int e2e_visit_confirmed(const e2e_proc_t *p, const char *body, const char *home_tok,
                        const char *host_tok, char *vid, char *tok, size_t cap);
/* e2e_club's extra for a club in UTC (address in GB). */
#define E2E_CLUB_UTC "\"timezone\":\"UTC\",\"address\":{\"country\":\"GB\"}"

/* The one-time token of the latest `type` event (auth.invite_created,
 * auth.password_reset_requested, auth.email_verification_requested) for `email`, fetched the way
 * the notification service will: the event's token_id, then the auth operation delivery_token
 * over NATS as a service caller holding auth:deliver (docs/security.md N3). Waits up to
 * tries x 0.5 s. 0, or -1 when there is none. */
int e2e_event_token(const char *type, const char *email, int tries, char *out, size_t cap);
/* auth.delivery_token over NATS: bus is a bus_t *, cfg a cfg_t * (with RECIPROCAL_BUS_KEY);
 * *out (caller frees) gets the operation's output. */
int e2e_delivery_token(void *bus, const void *cfg, const char *club_id, const char *token_id,
                       json_t **out);

#endif
