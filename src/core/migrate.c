/* migrate: see migrate.h. Owns one libpq connection per call (no pool) and the bookkeeping table
 * public.schema_migrations. Every run that changes the schema holds a session advisory lock, so
 * two `migrate up` (or up and down) started at the same time run one after the other; each
 * migration runs in its own transaction together with its record insert/delete, so a failed
 * migration leaves neither schema changes nor a record behind. */
#include "core/migrate.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

/* arbitrary constant shared by every binary of this project ("recip" + 1) */
#define MIGRATE_LOCK_KEY "7262300100001"

#define SVC_MAX 64

typedef struct applied {
    char service[SVC_MAX];
    int version;
    char name[128];
    char applied_at[40];
    long long applied_us; /* for ordering */
    int index;            /* position in the files array, -1 if unknown */
} applied_t;

static void chomp(char *s) {
    size_t l = strlen(s);
    while (l && (s[l - 1] == '\n' || s[l - 1] == '\r' || s[l - 1] == ' '))
        s[--l] = 0;
}

static void file_path(const migrate_file_t *f, int up, char *buf, size_t n) {
    if (strcmp(f->service, "core") == 0)
        snprintf(buf, n, "src/core/migrations/%04d_%s.%s.sql", f->version, f->name,
                 up ? "up" : "down");
    else
        snprintf(buf, n, "src/services/%s/migrations/%04d_%s.%s.sql",
                 migrate_service_dir(f->service), f->version, f->name, up ? "up" : "down");
}

/* 1-based line of a 1-based character position in a UTF-8 script. */
static int line_of(const char *sql, long pos) {
    int line = 1;
    long chars = 0;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++) {
        if ((*p & 0xC0) != 0x80) {
            if (++chars >= pos) break;
        }
        if (*p == '\n') line++;
    }
    return line;
}

static PGconn *mig_connect(const char *conninfo, err_t *e) {
    if (!conninfo || !*conninfo) {
        err_set(e, 500, "internal", NULL, "migrate: no database URL (owner role) configured");
        return NULL;
    }
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "reciprocal-migrate", conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
        chomp(msg);
        err_set(e, 503, "unavailable", NULL, "migrate: cannot connect to the database: %s", msg);
        PQfinish(c);
        return NULL;
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

/* Runs a bookkeeping statement; errors are reported with `what`. */
static int run(PGconn *c, const char *sql, int nparams, const char *const *params, PGresult **out,
               const char *what, err_t *e) {
    PGresult *r =
        nparams ? PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        chomp(msg);
        PQclear(r);
        return err_set(e, 500, "migration_failed", NULL, "migrate: %s: %s", what, msg);
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

static int validate(const migrate_file_t *files, int count, err_t *e) {
    if (count < 0 || (count > 0 && !files))
        return err_set(e, 500, "internal", NULL, "migrate: bad migration list");
    for (int i = 0; i < count; i++) {
        const migrate_file_t *f = &files[i];
        if (!f->service || !f->name || !f->up || !f->down || f->version < 1 ||
            strlen(f->service) >= SVC_MAX)
            return err_set(e, 500, "internal", NULL, "migrate: migration #%d is incomplete", i);
        for (int j = 0; j < i; j++)
            if (files[j].version == f->version && strcmp(files[j].service, f->service) == 0)
                return err_set(e, 500, "internal", NULL,
                               "migrate: %s has two migrations numbered %04d", f->service,
                               f->version);
    }
    return 0;
}

static int table_exists(PGconn *c, int *exists, err_t *e) {
    PGresult *r;
    if (run(c, "SELECT to_regclass('public.schema_migrations') IS NOT NULL", 0, NULL, &r,
            "checking for public.schema_migrations", e) < 0)
        return -1;
    *exists = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}

static int find_file(const migrate_file_t *files, int count, const char *svc, int version) {
    for (int i = 0; i < count; i++)
        if (files[i].version == version && strcmp(files[i].service, svc) == 0) return i;
    return -1;
}

static int load_applied(PGconn *c, const migrate_file_t *files, int count, applied_t **out, int *n,
                        err_t *e) {
    *out = NULL;
    *n = 0;
    PGresult *r;
    if (run(c,
            "SELECT service, version, name, "
            "to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"'), "
            "(extract(epoch FROM applied_at) * 1000000)::bigint "
            "FROM public.schema_migrations ORDER BY service, version",
            0, NULL, &r, "reading public.schema_migrations", e) < 0)
        return -1;
    int rows = PQntuples(r);
    applied_t *a = calloc((size_t)(rows ? rows : 1), sizeof *a);
    if (!a) {
        PQclear(r);
        return err_set(e, 500, "internal", NULL, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        snprintf(a[i].service, sizeof a[i].service, "%s", PQgetvalue(r, i, 0));
        a[i].version = atoi(PQgetvalue(r, i, 1));
        snprintf(a[i].name, sizeof a[i].name, "%s", PQgetvalue(r, i, 2));
        snprintf(a[i].applied_at, sizeof a[i].applied_at, "%s", PQgetvalue(r, i, 3));
        a[i].applied_us = strtoll(PQgetvalue(r, i, 4), NULL, 10);
        a[i].index = find_file(files, count, a[i].service, a[i].version);
    }
    PQclear(r);
    *out = a;
    *n = rows;
    return 0;
}

static const applied_t *find_applied(const applied_t *a, int n, const migrate_file_t *f) {
    for (int i = 0; i < n; i++)
        if (a[i].version == f->version && strcmp(a[i].service, f->service) == 0) return &a[i];
    return NULL;
}

/* Runs one migration script (up or down) and its record change in one transaction. */
static int apply_one(PGconn *c, const migrate_file_t *f, int up, err_t *e) {
    char path[256];
    file_path(f, up, path, sizeof path);
    if (run(c, "BEGIN", 0, NULL, NULL, path, e) < 0) return -1;
    const char *sql = up ? f->up : f->down;
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        char msg[300], where[48] = "", state[32] = "";
        const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        const char *sqlstate = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        const char *pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
            primary = "COPY is not supported in migrations";
        snprintf(msg, sizeof msg, "%s", primary ? primary : PQerrorMessage(c));
        chomp(msg);
        if (sqlstate) snprintf(state, sizeof state, " (SQLSTATE %s)", sqlstate);
        if (pos) snprintf(where, sizeof where, " at line %d", line_of(sql, atol(pos)));
        /* errors inside functions (e.g. core.create_outbox) say where in their CONTEXT */
        char ctx[160] = "";
        const char *context = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
        if (context) {
            snprintf(ctx, sizeof ctx, " [%s", context);
            ctx[strcspn(ctx, "\n")] = 0;
            size_t l = strlen(ctx);
            if (l + 1 < sizeof ctx) ctx[l] = ']', ctx[l + 1] = 0;
        }
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        return err_set(e, 500, "migration_failed", NULL, "migration %s failed%s: %s%s%s", path,
                       where, msg, state, ctx);
    }
    PQclear(r);
    if (PQtransactionStatus(c) != PQTRANS_INTRANS) {
        if (PQtransactionStatus(c) != PQTRANS_IDLE) PQclear(PQexec(c, "ROLLBACK"));
        return err_set(e, 500, "migration_failed", NULL,
                       "migration %s ended its own transaction (COMMIT/ROLLBACK in the file): "
                       "it was not recorded and what ran before that may be committed; remove "
                       "those statements and check the database",
                       path);
    }
    char ver[16];
    snprintf(ver, sizeof ver, "%d", f->version);
    const char *params[3] = {f->service, ver, f->name};
    int rc = up ? run(c,
                      "INSERT INTO public.schema_migrations (service, version, name) "
                      "VALUES ($1, $2, $3)",
                      3, params, NULL, path, e)
                : run(c, "DELETE FROM public.schema_migrations WHERE service = $1 AND version = $2",
                      2, params, NULL, path, e);
    if (rc < 0) {
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    return run(c, "COMMIT", 0, NULL, NULL, path, e);
}

/* Connects, takes the advisory lock, creates the bookkeeping table if needed. */
static PGconn *open_locked(const char *conninfo, int create, err_t *e) {
    PGconn *c = mig_connect(conninfo, e);
    if (!c) return NULL;
    if (run(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL, NULL,
            "taking the migration lock", e) < 0)
        goto fail;
    if (create && run(c,
                      "CREATE TABLE IF NOT EXISTS public.schema_migrations ("
                      " service text NOT NULL,"
                      " version int NOT NULL,"
                      " name text NOT NULL,"
                      " applied_at timestamptz NOT NULL DEFAULT now(),"
                      " PRIMARY KEY (service, version))",
                      0, NULL, NULL, "creating public.schema_migrations", e) < 0)
        goto fail;
    return c;
fail:
    PQfinish(c);
    return NULL;
}

static void close_locked(PGconn *c) {
    if (!c) return;
    if (PQstatus(c) == CONNECTION_OK) {
        if (PQtransactionStatus(c) != PQTRANS_IDLE) PQclear(PQexec(c, "ROLLBACK"));
        PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    }
    PQfinish(c);
}

/* Applies f (up) or undoes it, counting it in *done and saying so on out (may be NULL). */
static int run_one(PGconn *c, const migrate_file_t *f, int up, FILE *out, int *done, err_t *e) {
    if (apply_one(c, f, up, e) < 0) return -1;
    (*done)++;
    if (out)
        fprintf(out, "%s %s %04d %s\n", up ? "applied" : "undone", f->service, f->version, f->name);
    return 0;
}

/* The closing line of an up (up) or down run that applied or undid done migrations. */
static void say_done(FILE *out, int done, int up) {
    if (!out) return;
    if (done)
        fprintf(out, "%d migration%s %s\n", done, done == 1 ? "" : "s", up ? "applied" : "undone");
    else
        fputs(up ? "nothing to apply: the database is up to date\n"
                 : "nothing to undo: no migration is applied\n",
              out);
}

int migrate_up_files(const char *conninfo, const migrate_file_t *files, int count, FILE *out,
                     err_t *e) {
    if (validate(files, count, e) < 0) return -1;
    PGconn *c = open_locked(conninfo, 1, e);
    if (!c) return -1;
    applied_t *a = NULL;
    int na = 0, done = 0, rc = -1;
    if (load_applied(c, files, count, &a, &na, e) < 0) goto out;
    for (int i = 0; i < count; i++)
        if (!find_applied(a, na, &files[i]) && run_one(c, &files[i], 1, out, &done, e) < 0)
            goto out;
    say_done(out, done, 1);
    rc = 0;
out:
    free(a);
    close_locked(c);
    return rc;
}

/* Most recently applied first; ties (same applied_at) by position in the array, last first. */
static int cmp_recent(const void *x, const void *y) {
    const applied_t *a = x, *b = y;
    if (a->applied_us != b->applied_us) return a->applied_us > b->applied_us ? -1 : 1;
    return (a->index > b->index) ? -1 : (a->index < b->index) ? 1 : 0;
}

int migrate_down_files(const char *conninfo, const migrate_file_t *files, int count, int n,
                       FILE *out, err_t *e) {
    if (n < 1) return err_invalid(e, "n", "migrate down needs a count >= 1");
    if (validate(files, count, e) < 0) return -1;
    PGconn *c = open_locked(conninfo, 0, e);
    if (!c) return -1;
    applied_t *a = NULL;
    int na = 0, done = 0, rc = -1, exists = 0;
    if (table_exists(c, &exists, e) < 0) goto out;
    if (exists && load_applied(c, files, count, &a, &na, e) < 0) goto out;
    if (na > 1) qsort(a, (size_t)na, sizeof *a, cmp_recent);
    for (int i = 0; i < na && i < n; i++) {
        if (a[i].index < 0) { /* checked before anything is undone */
            err_set(e, 500, "migration_failed", NULL,
                    "migration %s %04d %s is applied but not part of this build; cannot undo it",
                    a[i].service, a[i].version, a[i].name);
            goto out;
        }
    }
    for (int i = 0; i < na && i < n; i++)
        if (run_one(c, &files[a[i].index], 0, out, &done, e) < 0) goto out;
    say_done(out, done, 0);
    rc = 0;
out:
    free(a);
    close_locked(c);
    return rc;
}

int migrate_status_files(const char *conninfo, const migrate_file_t *files, int count, FILE *out,
                         err_t *e) {
    if (validate(files, count, e) < 0) return -1;
    PGconn *c = mig_connect(conninfo, e);
    if (!c) return -1;
    applied_t *a = NULL;
    int na = 0, rc = -1, exists = 0, napplied = 0, npending = 0;
    if (table_exists(c, &exists, e) < 0) goto out;
    if (exists && load_applied(c, files, count, &a, &na, e) < 0) goto out;
    if (out)
        fprintf(out, "%-16s %-7s %-32s %-8s %s\n", "SERVICE", "VERSION", "NAME", "STATE",
                "APPLIED_AT");
    for (int i = 0; i < count; i++) {
        const migrate_file_t *f = &files[i];
        const applied_t *ap = find_applied(a, na, f);
        if (ap)
            napplied++;
        else
            npending++;
        if (out && ap)
            fprintf(out, "%-16s %04d    %-32s %-8s %s\n", f->service, f->version, f->name,
                    "applied", ap->applied_at);
        else if (out)
            fprintf(out, "%-16s %04d    %-32s %s\n", f->service, f->version, f->name, "pending");
    }
    for (int i = 0; i < na; i++) {
        if (a[i].index >= 0) continue;
        napplied++;
        if (out)
            fprintf(out, "%-16s %04d    %-32s %-8s %s (not in this build)\n", a[i].service,
                    a[i].version, a[i].name, "applied", a[i].applied_at);
    }
    if (out) fprintf(out, "%d applied, %d pending\n", napplied, npending);
    rc = 0;
out:
    free(a);
    PQfinish(c);
    return rc;
}

int migrate_up(const char *conninfo, FILE *out, err_t *e) {
    return migrate_up_files(conninfo, migrate_embedded, migrate_embedded_count, out, e);
}

int migrate_down(const char *conninfo, int n, FILE *out, err_t *e) {
    return migrate_down_files(conninfo, migrate_embedded, migrate_embedded_count, n, out, e);
}

int migrate_status(const char *conninfo, FILE *out, err_t *e) {
    return migrate_status_files(conninfo, migrate_embedded, migrate_embedded_count, out, e);
}
