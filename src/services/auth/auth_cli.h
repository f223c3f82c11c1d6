/* auth_cli: the `reciprocal auth ...` commands. Owns nothing beyond one command's run.
 *   reciprocal auth rotate-keys               new signing key; the old one stays published
 *                                             until the tokens it signed have expired
 *   reciprocal auth create-admin --email E    first network administrator; the password is
 *                                             read from RECIPROCAL_ADMIN_PASSWORD or the first
 *                                             line of stdin, never from the command line
 * Both connect with RECIPROCAL_DATABASE_URL (the application role, RLS applies) and need
 * RECIPROCAL_AUTH_KEK. Exit status: 0, 1 (failure), 2 (usage or invalid input). */
#ifndef SERVICES_AUTH_AUTH_CLI_H
#define SERVICES_AUTH_AUTH_CLI_H

#include "core/config.h"

int auth_cli_main(const cfg_t *cfg, int argc, char **argv);
/* For `reciprocal seed`: with RECIPROCAL_SEED_ADMIN_PASSWORD set, creates (idempotently) the
 * demo network admin admin@reciprocal.example and, per demo club slug, a club admin
 * admin@<slug>.example with the same password; prints what it did. Without it: nothing. */
int auth_cli_seed(const cfg_t *cfg, const char *const *club_slugs);

#endif
