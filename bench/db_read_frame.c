/* bench/db_read_frame.c: PostgreSQL's CPU per db_read frame (stop 19, docs/reciprocal.md "Speed: a
 * read in two statements"). One connection, MB_N (20,000) reads per turn, a warm-up turn then six
 * ABBA pairs; per turn the CPU of that connection's backend (/proc/<pid>/stat, so run it on the
 * database's host as a user that may read it), the client's CPU and the wall time per read.
 * A = BEGIN READ ONLY + the scope + the statement + COMMIT in one libpq pipeline (db_read before
 * stop 19); B = the read-only scope + the statement in the pipeline's implicit transaction (now).
 * MB_SQL: the statement (default: two current_setting calls). Run through tests/run.sh (it
 * reads RECIPROCAL_TEST_DATABASE_URL): `make build/bench-db-read-frame && tests/run.sh
 * build/bench-db-read-frame`. Output: "# round ..." lines, "# mean backend: ...", "ok 1". */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static long long proc_ticks(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    long long ut = 0, st = 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    int field = 2;
    for (char *t = strtok(p + 1, " "); t; t = strtok(NULL, " ")) {
        field++;
        if (field == 14) ut = atoll(t);
        if (field == 15) {
            st = atoll(t);
            break;
        }
    }
    return ut + st;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int drain(PGconn *c) {
    int bad = 0;
    for (;;) {
        PGresult *r = PQgetResult(c);
        if (!r) continue;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_FATAL_ERROR) {
            fprintf(stderr, "%s", PQresultErrorMessage(r));
            bad = 1;
        }
        PQclear(r);
        if (st == PGRES_PIPELINE_SYNC) return bad;
    }
}

int main(void) {
    const char *url = getenv("RECIPROCAL_TEST_DATABASE_URL");
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        printf("not ok 1 - connect\n");
        return 1;
    }
    PGresult *r = PQexec(c, "SELECT pg_backend_pid()");
    int pid = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *scope =
        "SELECT set_config('app.club_id',$1,true), set_config('app.user_id',$2,true), "
        "set_config('app.network_admin',$3,true), set_config('app.relay',$4,true), "
        "set_config('app.ledger_writer',$5,true)";
    const char *scope_ro =
        "SELECT set_config('transaction_read_only','on',true), set_config('app.club_id',$1,true), "
        "set_config('app.user_id',$2,true), set_config('app.network_admin',$3,true), "
        "set_config('app.relay',$4,true), set_config('app.ledger_writer',$5,true)";
    const char *stmt =
        getenv("MB_SQL")
            ? getenv("MB_SQL")
            : "SELECT current_setting('app.club_id'), current_setting('transaction_read_only')";
    PQclear(PQprepare(c, "sc", scope, 5, NULL));
    PQclear(PQprepare(c, "sr", scope_ro, 5, NULL));
    PQclear(PQprepare(c, "st", stmt, 0, NULL));
    const char *sp[5] = {"11111111-1111-4111-8111-111111111111", "", "off", "off", "off"};
    int n = getenv("MB_N") ? atoi(getenv("MB_N")) : 20000;
    double hz = (double)sysconf(_SC_CLK_TCK);
    double tot[2] = {0, 0};
    for (int round = -1; round < 6; round++) { /* round -1: warm-up, not counted */
        for (int k = 0; k < 2; k++) {
            int mode = (round + k) % 2; /* ABBA */
            long long t0 = proc_ticks(pid);
            struct rusage u0, u1;
            getrusage(RUSAGE_SELF, &u0);
            double w0 = now();
            for (int i = 0; i < n; i++) {
                PQenterPipelineMode(c);
                if (mode == 0) {
                    PQsendQueryParams(c, "BEGIN READ ONLY", 0, NULL, NULL, NULL, NULL, 0);
                    PQsendQueryPrepared(c, "sc", 5, sp, NULL, NULL, 0);
                    PQsendQueryPrepared(c, "st", 0, NULL, NULL, NULL, 0);
                    PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
                } else {
                    PQsendQueryPrepared(c, "sr", 5, sp, NULL, NULL, 0);
                    PQsendQueryPrepared(c, "st", 0, NULL, NULL, NULL, 0);
                }
                PQpipelineSync(c);
                if (drain(c)) {
                    printf("not ok 1 - statement failed\n");
                    return 1;
                }
                PQexitPipelineMode(c);
            }
            double w1 = now();
            getrusage(RUSAGE_SELF, &u1);
            long long t1 = proc_ticks(pid);
            double be = (t1 - t0) / hz / n * 1e6;
            double cl = ((u1.ru_utime.tv_sec - u0.ru_utime.tv_sec) +
                         (u1.ru_stime.tv_sec - u0.ru_stime.tv_sec) +
                         (u1.ru_utime.tv_usec - u0.ru_utime.tv_usec) / 1e6 +
                         (u1.ru_stime.tv_usec - u0.ru_stime.tv_usec) / 1e6) /
                        n * 1e6;
            if (round >= 0) tot[mode] += be;
            printf("# round %d %s: backend %.1f us/read, client %.1f us/read, wall %.1f us/read\n",
                   round, mode ? "B (2 statements)" : "A (4 statements)", be, cl,
                   (w1 - w0) / n * 1e6);
        }
    }
    printf("# mean backend: A %.1f us, B %.1f us per read\n", tot[0] / 6, tot[1] / 6);
    PQfinish(c);
    printf("ok 1 - read frame\n");
    return 0;
}
