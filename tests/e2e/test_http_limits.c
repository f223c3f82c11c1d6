/* End-to-end, the real binary: what the HTTP layer promises at the process level
 * (docs/security.md H1-H3). Graceful shutdown is bounded: a request that never completes (a
 * client that announced a body and stops sending it) does not keep the process alive past
 * RECIPROCAL_SHUTDOWN_GRACE_SECONDS; the slow-client controls are configured from the
 * environment (a trickling head is cut after RECIPROCAL_HTTP_HEAD_TIMEOUT_SECONDS, the per-IP
 * limit holds); authenticated JSON answers carry `Cache-Control: no-store` and
 * `X-Content-Type-Options: nosniff`. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "support/e2e.h"
#include "test.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A connected socket to 127.0.0.1:port (receive timeout recv_s), or -1. */
static int dial(int port, int recv_s) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = recv_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_str(int fd, const char *s) {
    return send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s) ? 0 : -1;
}

static void test_shutdown_bounded(void) {
    e2e_proc_t p;
    const char *env[] = {"RECIPROCAL_SHUTDOWN_GRACE_SECONDS=2", NULL};
    REQUIRE(e2e_start(&p, NULL, 0, 1, env) == 0);
    /* a request whose body never arrives: in flight until the process gives up on it */
    int fd = dial(p.port, 30);
    REQUIRE(fd >= 0);
    CHECK(send_str(fd,
                   "POST /api/v1/clubs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: 1000\r\n\r\n{\"name\":") == 0);
    usleep(300 * 1000);
    double t0 = now_s();
    int rc = e2e_stop(&p);
    double took = now_s() - t0;
    CHECK_EQ_INT(rc, 0);
    printf("#   SIGTERM with a stuck upload: exited after %.2f s (grace 2 s)\n", took);
    CHECK(took >= 1.5);
    CHECK(took < 2 + 3.0);
    close(fd);
}

/* A handler that never returns: the request's SELECT waits on a table lock the test holds.
 * Before the fix, MHD_stop_daemon joined the stuck worker and the process stayed up as long as
 * the lock (forever); now it ends grace + 5 s after SIGTERM, with status 1 and a log line. */
static void test_shutdown_stuck_handler(void) {
    const char *url = getenv("RECIPROCAL_TEST_OWNER_URL");
    REQUIRE(url != NULL);
    e2e_proc_t p;
    const char *env[] = {"RECIPROCAL_SHUTDOWN_GRACE_SECONDS=1", NULL};
    REQUIRE(e2e_start(&p, NULL, 0, 1, env) == 0);
    PGconn *pg = PQconnectdb(url);
    REQUIRE(PQstatus(pg) == CONNECTION_OK);
    PGresult *r = PQexec(pg, "BEGIN; LOCK TABLE member.clubs IN ACCESS EXCLUSIVE MODE");
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    int fd = dial(p.port, 30);
    REQUIRE(fd >= 0);
    /* public route; its SELECT on member.clubs blocks behind the lock */
    CHECK(send_str(fd, "GET /api/v1/clubs/00000000-0000-4000-8000-000000000000/card-key "
                       "HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    usleep(500 * 1000);
    double t0 = now_s();
    kill(p.pid, SIGTERM);
    int st = 0;
    pid_t w = 0;
    while ((w = waitpid(p.pid, &st, WNOHANG)) == 0 && now_s() - t0 < 30)
        usleep(50 * 1000);
    double took = now_s() - t0;
    if (w == 0) {
        kill(p.pid, SIGKILL);
        waitpid(p.pid, &st, 0);
    }
    printf("#   SIGTERM with a stuck handler: exited after %.2f s (grace 1 s), status %d\n", took,
           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    CHECK(w == p.pid);
    CHECK(took < 1 + 5 + 2.0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1); /* forced: not a clean stop */
    p.pid = 0;
    close(fd);
    r = PQexec(pg, "ROLLBACK");
    PQclear(r);
    PQfinish(pg);
}

/* The limits come from the environment; authenticated JSON carries the cache and sniffing
 * headers. */
static void test_env_limits_and_headers(void) {
    e2e_proc_t p;
    const char *env[] = {"RECIPROCAL_HTTP_HEAD_TIMEOUT_SECONDS=1",
                         "RECIPROCAL_HTTP_MAX_CONNECTIONS_PER_IP=40", NULL};
    REQUIRE(e2e_start(&p, NULL, 0, 1, env) == 0);
    /* a trickled head is cut after about 1 s */
    int fd = dial(p.port, 10);
    REQUIRE(fd >= 0);
    CHECK(send_str(fd, "GET /health/live HTTP/1.1\r\nHost: x\r\n") == 0);
    double t0 = now_s(), closed = -1;
    for (int i = 0; i < 20 && closed < 0; i++) {
        usleep(200 * 1000);
        if (send_str(fd, "X-A: b\r\n") != 0) closed = now_s() - t0;
        char b[64];
        if (recv(fd, b, sizeof b, MSG_DONTWAIT) == 0) closed = now_s() - t0;
    }
    printf("#   trickled head cut after %.2f s (RECIPROCAL_HTTP_HEAD_TIMEOUT_SECONDS=1)\n", closed);
    CHECK(closed >= 0.8 && closed < 2.5);
    close(fd);
    /* the per-IP limit: of 60 connections from 127.0.0.1, 40 stay open */
    int fds[60], open_n = 0;
    for (int i = 0; i < 60; i++)
        fds[i] = dial(p.port, 1);
    usleep(300 * 1000);
    for (int i = 0; i < 60; i++) {
        char b[8];
        if (fds[i] >= 0 && recv(fds[i], b, sizeof b, MSG_DONTWAIT) < 0 && errno == EAGAIN) open_n++;
        if (fds[i] >= 0) close(fds[i]);
    }
    printf("#   60 connections from one address, limit 40: %d stayed open\n", open_n);
    CHECK_EQ_INT(open_n, 40);
    usleep(300 * 1000);
    /* authenticated JSON */
    REQUIRE(e2e_login_admin(&p, NULL, NULL) == 0);
    char url[128], v[64];
    snprintf(url, sizeof url, "%s/api/v1/clubs?limit=1", p.base);
    e2e_resp_t r;
    REQUIRE(e2e_http("GET", url, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(e2e_header(&r, "Cache-Control", v, sizeof v) && strcmp(v, "no-store") == 0);
    CHECK(e2e_header(&r, "X-Content-Type-Options", v, sizeof v) && strcmp(v, "nosniff") == 0);
    e2e_resp_free(&r);
    e2e_set_bearer(NULL);
    CHECK_EQ_INT(e2e_stop(&p), 0);
}

int main(void) {
    RUN(test_shutdown_bounded);
    RUN(test_shutdown_stuck_handler);
    RUN(test_env_limits_and_headers);
    TEST_DONE();
}
