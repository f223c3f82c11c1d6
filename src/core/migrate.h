/* migrate: versioned SQL migrations per service schema, embedded into the binary at build time
 * from src/core/migrations and src/services/<name>/migrations (NNNN_name.up.sql + .down.sql).
 * Each migration runs in its own transaction as the owner role and is recorded in
 * public.schema_migrations(service, version, name, applied_at). Core runs first; `down N` undoes
 * the N most recently applied migrations in reverse order. */
#ifndef CORE_MIGRATE_H
#define CORE_MIGRATE_H

#include <stdio.h>

#include "core/err.h"

typedef struct migrate_file {
    const char *service;
    int version;
    const char *name;
    const char *up;
    const char *down;
} migrate_file_t;

extern const migrate_file_t migrate_embedded[];
extern const int migrate_embedded_count;
/* The folder under src/services/ of a service key's migrations: the key itself, unless the
 * folder keeps an older key in migrations/SERVICE (tools/embed_sql.sh). For messages. */
const char *migrate_service_dir(const char *service);

/* conninfo: the owner role's URL. Applied/undone migrations are reported on `out` (may be NULL). */
int migrate_up(const char *conninfo, FILE *out, err_t *e);
int migrate_down(const char *conninfo, int n, FILE *out, err_t *e);
int migrate_status(const char *conninfo, FILE *out, err_t *e);

/* The same on an explicit list (in apply order) instead of migrate_embedded; used by the above
 * and by tests. `up` applies every listed migration not yet recorded, in list order; `down`
 * undoes the n most recently applied (by applied_at, ties: later in the list first) and refuses
 * when one of them is not in the list; `status` prints SERVICE VERSION NAME STATE APPLIED_AT. */
int migrate_up_files(const char *conninfo, const migrate_file_t *files, int count, FILE *out,
                     err_t *e);
int migrate_down_files(const char *conninfo, const migrate_file_t *files, int count, int n,
                       FILE *out, err_t *e);
int migrate_status_files(const char *conninfo, const migrate_file_t *files, int count, FILE *out,
                         err_t *e);

#endif
