/* auth_cli: the auth module's command line (`reciprocal auth ...`, auth_module.cli) and its part
 * of the demo data (auth_module.seed). Owns nothing beyond one command's run.
 *   reciprocal auth rotate-keys               new signing key; the old one stays published
 *                                             until the tokens it signed have expired
 *   reciprocal auth create-admin --email E    first network administrator; the password is
 *                                             read from RECIPROCAL_ADMIN_PASSWORD or the first
 *                                             line of stdin, never from the command line
 * Both connect with RECIPROCAL_DATABASE_URL (the application role, RLS applies) and need
 * RECIPROCAL_AUTH_KEK. Exit status: 0, 1 (failure), 2 (usage or invalid input). */
#ifndef SERVICES_AUTH_AUTH_CLI_H
#define SERVICES_AUTH_AUTH_CLI_H

#include "core/service.h"

#define AUTH_CLI_USAGE                                                                             \
    "  auth rotate-keys         new token signing key (old one published until expiry)\n"          \
    "  auth create-admin --email E  first network admin (password: env or stdin)\n"

int auth_cli_main(const svc_env_t *env, int argc, char **argv);
/* The seed hook (`reciprocal seed`, after the member service's): with
 * RECIPROCAL_SEED_ADMIN_PASSWORD set, creates (idempotently) the demo network admin
 * admin@reciprocal.example and, per demo club, a club admin admin@<slug>.example with the same
 * password; prints what it did. Without it: nothing. 0 or -1 + err. */
int auth_seed(const svc_env_t *env, err_t *e);

#endif
