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

static int rotate_keys(const svc_env_t *env) {
    const auth_settings_t *as = auth_settings(env);
    err_t e = {0};
    char kid[32];
    if (auth_conf_require(as, &e) != 0) return report("rotate-keys", &e);
    db_pool_t *db = db_pool_open(env->cfg->database_url, 1, &e);
    if (!db) return report("rotate-keys", &e);
    int rc = auth_keys_rotate(as, db, kid, &e);
    auth_keys_forget();
    db_pool_close(db);
    if (rc != 0) return report("rotate-keys", &e);
    printf("new signing key %s; the previous key stays published until its tokens expire\n", kid);
    return 0;
}

static int create_admin(const svc_env_t *env, const char *email) {
    err_t e = {0};
    char pw[PASSWORD_MAX_BYTES + 2] = "", id[40];
    const char *given = getenv("RECIPROCAL_ADMIN_PASSWORD");
    if (given && *given) {
        snprintf(pw, sizeof pw, "%s", given);
    } else {
        if (!fgets(pw, sizeof pw, stdin)) {
            fprintf(stderr, "reciprocal: auth create-admin: give the password in "
                            "RECIPROCAL_ADMIN_PASSWORD or on stdin\n");
            return 2;
        }
        pw[strcspn(pw, "\r\n")] = 0;
    }
    if (auth_conf_require(auth_settings(env), &e) != 0) return report("create-admin", &e);
    db_pool_t *db = db_pool_open(env->cfg->database_url, 1, &e);
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

int auth_cli_main(const svc_env_t *env, int argc, char **argv) {
    if (argc == 1 && strcmp(argv[0], "rotate-keys") == 0) return rotate_keys(env);
    if (argc == 3 && strcmp(argv[0], "create-admin") == 0 && strcmp(argv[1], "--email") == 0)
        return create_admin(env, argv[2]);
    return usage();
}

int auth_seed(const svc_env_t *env, err_t *e) {
    const char *pw = getenv("RECIPROCAL_SEED_ADMIN_PASSWORD");
    if (!pw || !*pw) return 0;
    if (auth_conf_require(auth_settings(env), e) != 0) return -1;
    char id[40];
    const char *admin = "admin@reciprocal.example";
    if (auth_create_network_admin(env->db, admin, pw, id, e) == 0)
        printf("seeded network administrator %s\n", admin);
    else if (e->status == 409)
        printf("network administrator %s already present\n", admin);
    else
        return -1;
    /* one club administrator per demo club (the member service's seed ran first) */
    static const char *const club_slugs[] = {"harbour-yacht", "union-university",
                                             "highveld-country", NULL};
    for (const char *const *s = club_slugs; *s; s++) {
        db_tx_t *tx = NULL;
        db_scope_t scope = {0};
        char club[40] = "", email[128];
        err_clear(e);
        if (db_begin(env->db, &scope, &tx, e) == 0) {
            const char *p[] = {*s};
            PGresult *r = db_exec(tx, "SELECT id FROM member.clubs WHERE slug = $1", 1, p, e);
            if (r && PQntuples(r) == 1) snprintf(club, sizeof club, "%s", PQgetvalue(r, 0, 0));
            PQclear(r);
            db_commit(tx, e);
        }
        if (!club[0]) continue;
        snprintf(email, sizeof email, "admin@%s.example", *s);
        if (auth_create_club_user(env->db, club, email, pw, "club_admin", id, e) != 0) return -1;
        printf("club administrator %s (club %s)\n", email, *s);
    }
    err_clear(e);
    return 0;
}
