/* common_passwords: the block list of common passwords shipped with the binary (issue 3), used
 * by password_check_policy. Owns one static, sorted, read-only array generated into
 * common_passwords.c by tools/gen_common_passwords.sh (edit the script, not the .c file).
 * Only entries of COMMON_PASSWORDS_MIN_LEN.. characters are listed: shorter passwords are
 * already refused by the length rule. Thread-safe (no state). */
#ifndef SERVICES_AUTH_COMMON_PASSWORDS_H
#define SERVICES_AUTH_COMMON_PASSWORDS_H

#include <stddef.h>

#define COMMON_PASSWORDS_MIN_LEN 12
#define COMMON_PASSWORDS_MAX_LEN 128

/* 1 when the password is on the list, compared ASCII case-insensitively (binary search). */
int common_passwords_contains(const char *password);
/* Number of entries (for tests and diagnostics). */
size_t common_passwords_count(void);

#endif
