/* auth_cli: see auth_cli.h. */
#include "services/auth/auth_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/db.h"
#include "services/auth/auth_accounts.h"
#include "services/auth/auth_keys.h"
#include "services/auth/auth_util.h"
#include "lib/credentials/password.h"

static int report(const char *what, const err_t *e) {
    fprintf(stderr, "reciprocal: auth %s: %s%s%s%s\n", what, e->message, e->field[0] ? " (" : "",
            e->field, e->field[0] ? ")" : "");
    return e->status == 400 || e->status == 422 || e->status == 409 ? 2 : 1;
}

static int usage(void) {
    fprintf(stderr, "usage: reciprocal auth rotate-keys\n"
                    "       reciprocal auth create-admin --email EMAIL   (password from "
                    "RECIPROCAL_ADMIN_PASSWORD or stdin)\n");
    return 2;
}

static int rotate_keys(const cfg_t *cfg) {
    err_t e = {0};
    char kid[32];
    if (auth_conf_require(cfg, &e) != 0) return report("rotate-keys", &e);
    db_pool_t *db = db_pool_open(cfg->database_url, 1, &e);
    if (!db) return report("rotate-keys", &e);
    int rc = auth_keys_rotate(cfg, db, kid, &e);
    auth_keys_forget();
    db_pool_close(db);
    if (rc != 0) return report("rotate-keys", &e);
    printf("new signing key %s; the previous key stays published until its tokens expire\n", kid);
    return 0;
}

static int create_admin(const cfg_t *cfg, const char *email) {
    err_t e = {0};
    char pw[PASSWORD_MAX_BYTES + 2] = "", id[40];
    const char *env = getenv("RECIPROCAL_ADMIN_PASSWORD");
    if (env && *env) {
        snprintf(pw, sizeof pw, "%s", env);
    } else {
        if (!fgets(pw, sizeof pw, stdin)) {
            fprintf(stderr, "reciprocal: auth create-admin: give the password in "
                            "RECIPROCAL_ADMIN_PASSWORD or on stdin\n");
            return 2;
        }
        pw[strcspn(pw, "\r\n")] = 0;
    }
    if (auth_conf_require(cfg, &e) != 0) return report("create-admin", &e);
    db_pool_t *db = db_pool_open(cfg->database_url, 1, &e);
    if (!db) {
        sodium_memzero(pw, sizeof pw);
        return report("create-admin", &e);
    }
    int rc = auth_create_network_admin(db, email, pw, id, &e);
    sodium_memzero(pw, sizeof pw);
    db_pool_close(db);
    if (rc != 0) return report("create-admin", &e);
    printf("created network administrator %s (%s)\n", email, id);
    return 0;
}

int auth_cli_main(const cfg_t *cfg, int argc, char **argv) {
    if (argc == 1 && strcmp(argv[0], "rotate-keys") == 0) return rotate_keys(cfg);
    if (argc == 3 && strcmp(argv[0], "create-admin") == 0 && strcmp(argv[1], "--email") == 0)
        return create_admin(cfg, argv[2]);
    return usage();
}

int auth_cli_seed(const cfg_t *cfg, const char *const *club_slugs) {
    const char *pw = getenv("RECIPROCAL_SEED_ADMIN_PASSWORD");
    err_t e = {0};
    if (!pw || !*pw) return 0;
    if (auth_conf_require(cfg, &e) != 0) return report("seed", &e);
    db_pool_t *db = db_pool_open(cfg->database_url, 1, &e);
    if (!db) return report("seed", &e);
    int rc = 0;
    char id[40];
    const char *admin = "admin@reciprocal.example";
    if (auth_create_network_admin(db, admin, pw, id, &e) == 0)
        printf("seeded network administrator %s\n", admin);
    else if (e.status == 409)
        printf("network administrator %s already present\n", admin);
    else
        rc = report("seed", &e);
    for (const char *const *s = club_slugs; rc == 0 && s && *s; s++) {
        db_tx_t *tx = NULL;
        db_scope_t scope = {0};
        char club[40] = "", email[128];
        err_clear(&e);
        if (db_begin(db, &scope, &tx, &e) == 0) {
            const char *p[] = {*s};
            PGresult *r = db_exec(tx, "SELECT id FROM member.clubs WHERE slug = $1", 1, p, &e);
            if (r && PQntuples(r) == 1) snprintf(club, sizeof club, "%s", PQgetvalue(r, 0, 0));
            PQclear(r);
            db_commit(tx, &e);
        }
        if (!club[0]) continue;
        snprintf(email, sizeof email, "admin@%s.example", *s);
        if (auth_create_club_user(db, club, email, pw, "club_admin", id, &e) == 0)
            printf("club administrator %s (club %s)\n", email, *s);
        else
            rc = report("seed", &e);
    }
    db_pool_close(db);
    return rc;
}
