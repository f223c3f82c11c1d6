/* loi: the letter of introduction (LOI) token a home club issues for an approved visit. Pure: no
 * database, no clock of its own (the caller passes "now"), no key storage
 * (lib/credentials/signkey's key pairs; the caller seals and stores them). Format, checks and
 * offline verification: docs/reciprocal-loi.md. Token: "RL1." base64url(payload) "."
 * base64url(Ed25519 signature of everything before the second dot), at most LOI_TOKEN_MAX chars so
 * it always fits one QR code. The payload is canonical JSON: exactly these keys in this order,
 * compact, no escapes beyond what jansson writes, so one letter has exactly one encoding (decode
 * re-encodes and compares):
 *   {"v":1,"kid","code","visit","home","host","nbf","exp","iat","fac":[...],"guests",
 *    "member":{"name","num","cat","valid_to"}}
 * nbf/exp/iat are unix seconds (valid while nbf <= now < exp; the reciprocal service derives
 * them from the visit's dates in the host's time zone), code is the letter code (16 random
 * bytes, base64url, 22 chars), visit/home/host are UUIDs, valid_to is the membership's
 * "YYYY-MM-DD" or null. */
#ifndef SERVICES_RECIPROCAL_LOI_H
#define SERVICES_RECIPROCAL_LOI_H

#include <stddef.h>

#include "lib/credentials/signkey.h"

#define LOI_PREFIX "RL1."
#define LOI_TOKEN_MAX 2000 /* a QR code at level M holds 2331 bytes */
#define LOI_CODE_BYTES 16
#define LOI_CODE_LEN 22 /* base64url of LOI_CODE_BYTES */
#define LOI_FAC_MAX 12
#define LOI_FAC_LEN 32 /* a facility name: [a-z0-9_-], 1..31 chars */
#define LOI_GUESTS_MAX 20
#define LOI_NAME_LEN 121 /* 1..120 bytes of UTF-8 */
#define LOI_SHORT_LEN 33 /* member number and category: 1..32 bytes */

typedef struct {
    char kid[SIGNKEY_KID_MAX];
    char code[LOI_CODE_LEN + 1];
    char visit[37], home[37], host[37];
    long long nbf, exp, iat;
    char fac[LOI_FAC_MAX][LOI_FAC_LEN];
    int n_fac;
    int guests;
    char name[LOI_NAME_LEN];
    char num[LOI_SHORT_LEN];
    char cat[LOI_SHORT_LEN];
    char valid_to[11]; /* "" = no end date */
} loi_t;

typedef enum {
    LOI_OK = 0,
    LOI_MALFORMED,
    LOI_UNKNOWN_KEY,
    LOI_BAD_SIGNATURE,
    LOI_WRONG_HOST,
    LOI_NOT_YET_VALID,
    LOI_EXPIRED,
} loi_reason_t;

/* "ok", "malformed", "unknown_key", "bad_signature", "wrong_host", "not_yet_valid", "expired". */
const char *loi_reason_name(loi_reason_t r);

/* A fresh letter code (LOI_CODE_BYTES random bytes, base64url) into code. 0 or -1. */
int loi_new_code(char code[LOI_CODE_LEN + 1]);

/* 0 when every field of l is within the format (UUIDs, code, window nbf < exp, facility names,
 * guests, member fields, date); else -1 with *field naming the first bad one. */
int loi_check_fields(const loi_t *l, const char **field);

/* Signs l with key (l->kid is taken from key). *token: malloc'd, caller frees. -1 when a field
 * is out of format (*field names it, may be NULL) or the token would exceed LOI_TOKEN_MAX. */
int loi_encode(loi_t *l, const signkey_t *key, char **token, const char **field);

/* Strict decode without any signature check (for display and for finding the kid): size limit,
 * prefix, canonical base64url, canonical payload, every field in format. 0 or -1. */
int loi_decode(const char *token, loi_t *out);

/* The full offline check, in this order: decode (malformed), key by kid in keys (unknown_key),
 * signature (bad_signature), host (wrong_host; host NULL = any), window at now (not_yet_valid
 * when now < nbf, expired when now >= exp). out (may be NULL) receives the letter when it
 * decoded, even when a later check failed. */
loi_reason_t loi_verify(const char *token, const signkey_pub_t *keys, size_t n_keys,
                        const char *host, long long now, loi_t *out);

/* The letter as JSON for an API answer (new reference): {"code","visit_id","home_club_id",
 * "host_club_id","valid_from","valid_to" (ISO 8601 UTC),"facilities","guests","kid",
 * "member":{"name","member_number","category","membership_valid_to"}}. */
json_t *loi_to_json(const loi_t *l);

/* The QR code SVG of the token (malloc'd) or NULL. */
char *loi_qr_svg(const char *token);

#endif
