/* validate: see validate.h. */
#include "services/ledger/validate.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/ledger/engine.h"

#define ORG_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"

static int missing(const char *name, err_t *e) {
    return err_missing(e, name);
}

/* ---- field checks: 0, or -1 with e naming the field ---------------------------------------- */

static int is_object(json_t *in, err_t *e) {
    if (!json_is_object(in)) return err_set(e, 400, "invalid_input", "", "a JSON object expected");
    return 0;
}

/* a string of min..max bytes; absent is fine unless required */
static int str_field(json_t *in, const char *name, int required, size_t min, size_t max, err_t *e) {
    json_t *v = json_object_get(in, name);
    if (!v || json_is_null(v)) return required ? missing(name, e) : 0;
    if (!json_is_string(v)) return err_type(e, name, "%s must be a string", name);
    size_t n = json_string_length(v);
    if (n < min || n > max)
        return err_invalid(e, name, "%s must be %zu..%zu bytes", name, min, max);
    return 0;
}

/* an organisation name: 1..64 of [A-Za-z0-9.-] */
static int org_field(json_t *in, const char *name, int required, err_t *e) {
    if (str_field(in, name, required, 1, POLICY_MAX_ORG, e) != 0) return -1;
    const char *s = json_string_value(json_object_get(in, name));
    if (s && strspn(s, ORG_CHARS) != strlen(s))
        return err_invalid(e, name, "%s must be 1..64 of [A-Za-z0-9.-]", name);
    return 0;
}

/* 64 hex digits (a tx id, a public key) */
static int hex32_ok(json_t *v) {
    uint8_t b[32];
    return json_is_string(v) && ledger_unhex(json_string_value(v), b, 32) == 0;
}

static int hex32_field(json_t *in, const char *name, int required, err_t *e) {
    json_t *v = json_object_get(in, name);
    if (!v || json_is_null(v)) return required ? missing(name, e) : 0;
    if (!json_is_string(v)) return err_type(e, name, "%s must be a string of 64 hex digits", name);
    if (!hex32_ok(v)) return err_invalid(e, name, "%s must be 64 hex digits", name);
    return 0;
}

/* standard base64 of 1..max bytes (exactly `exact` when exact != 0) */
static int b64_ok(json_t *v, size_t max, size_t exact) {
    if (!json_is_string(v)) return 0;
    const char *s = json_string_value(v);
    size_t sl = strlen(s), n = 0;
    if (sl == 0 || sl / 4 * 3 > max + 3) return 0;
    uint8_t *buf = malloc(sl);
    int ok =
        buf &&
        sodium_base642bin(buf, sl, s, sl, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
        n > 0 && n <= max && (!exact || n == exact);
    free(buf);
    return ok;
}

/* a non-negative integer (a JSON number, or decimal digits from a query string) <= max */
static int u64_field(json_t *in, const char *name, int required, uint64_t min, uint64_t max,
                     uint64_t *out, err_t *e) {
    json_t *v = json_object_get(in, name);
    uint64_t x = 0;
    if (!v || json_is_null(v)) {
        if (required) return missing(name, e);
        if (out) *out = min;
        return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) < 0) {
        return err_invalid(e, name, "%s must be a non-negative integer", name);
    } else if (json_is_integer(v)) {
        x = (uint64_t)json_integer_value(v);
    } else {
        const char *s = json_string_value(v);
        char *end = NULL;
        if (!s || !*s || strlen(s) > 20 || strspn(s, "0123456789") != strlen(s))
            return err_type(e, name, "%s must be a non-negative integer", name);
        x = strtoull(s, &end, 10);
    }
    if (x < min || x > max)
        return err_invalid(e, name, "%s must be %" PRIu64 "..%" PRIu64, name, min, max);
    if (out) *out = x;
    return 0;
}

static int wait_field(json_t *in, err_t *e) {
    return u64_field(in, "wait_ms", 0, 0, LEDGER_WAIT_MAX_MS, NULL, e);
}

/* an optional array of at most max entries */
static int array_field(json_t *in, const char *name, size_t max, err_t *e) {
    json_t *v = json_object_get(in, name);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v)) return err_type(e, name, "%s must be an array", name);
    if (json_array_size(v) > max)
        return err_invalid(e, name, "%s has more than %zu entries", name, max);
    return 0;
}

/* ---- per operation --------------------------------------------------------------------------- */

int ledger_v_none(json_t *in, err_t *e) {
    return is_object(in, e);
}

int ledger_v_register_org(json_t *in, err_t *e) {
    if (is_object(in, e) != 0 || org_field(in, "org", 1, e) != 0 ||
        str_field(in, "club_id", 0, 36, 36, e) != 0 ||
        str_field(in, "name", 0, 0, LEDGER_NAME_MAX, e) != 0 || wait_field(in, e) != 0)
        return -1;
    if (strcmp(json_string_value(json_object_get(in, "org")), LEDGER_NETWORK_ORG) == 0)
        return err_invalid(e, "org", "org \"%s\" is the network operator's", LEDGER_NETWORK_ORG);
    json_t *keys = json_object_get(in, "public_keys");
    if (!keys || json_is_null(keys)) return 0;
    if (!json_is_object(keys))
        return err_type(e, "public_keys", "public_keys: {\"member\": 64 hex, \"admin\": 64 hex}");
    if (!hex32_ok(json_object_get(keys, "member")) || !hex32_ok(json_object_get(keys, "admin")))
        return err_invalid(e, "public_keys",
                           "public_keys: {\"member\": 64 hex, \"admin\": 64 hex}");
    if (strcmp(json_string_value(json_object_get(keys, "member")),
               json_string_value(json_object_get(keys, "admin"))) == 0)
        return err_invalid(e, "public_keys", "the member and admin public keys must differ");
    return 0;
}

int ledger_v_revoke(json_t *in, err_t *e) {
    if (is_object(in, e) != 0 || hex32_field(in, "public_key", 1, e) != 0 ||
        str_field(in, "reason", 0, 0, LEDGER_NAME_MAX, e) != 0 || wait_field(in, e) != 0)
        return -1;
    return 0;
}

/* a read {key, version} or a write {key, value | delete: true} */
static int set_entry_ok(json_t *x, int is_write) {
    json_t *k = json_object_get(x, "key");
    if (!json_is_object(x) || !json_is_string(k) || json_string_length(k) < 1 ||
        json_string_length(k) > TXCODEC_MAX_KEY)
        return 0;
    if (!is_write) {
        json_t *v = json_object_get(x, "version");
        return json_is_integer(v) && json_integer_value(v) >= 0;
    }
    json_t *v = json_object_get(x, "value"), *del = json_object_get(x, "delete");
    if (del && !json_is_boolean(del)) return 0;
    if (json_is_true(del)) return !v || json_is_null(v);
    return json_is_string(v) && json_string_length(v) <= TXCODEC_MAX_VALUE;
}

static int sets_ok(json_t *in, err_t *e) {
    const char *names[] = {"reads", "writes"};
    for (int w = 0; w < 2; w++) {
        if (array_field(in, names[w], TXCODEC_MAX_SET, e) != 0) return -1;
        json_t *arr = json_object_get(in, names[w]), *x;
        size_t i;
        json_array_foreach(arr, i, x) if (!set_entry_ok(x, w)) return err_type(
            e, names[w],
            w ? "%s[%zu]: {\"key\": 1..256 bytes, \"value\": string} or {\"key\", \"delete\": "
                "true}"
              : "%s[%zu]: {\"key\": 1..256 bytes, \"version\": non-negative integer}",
            names[w], i);
    }
    return 0;
}

/* sign_as: up to 64 entries, each an org or {"org", "role": "member"|"admin"} */
static int sign_as_ok(json_t *in, err_t *e) {
    if (array_field(in, "sign_as", LEDGER_MAX_ENDORSEMENTS, e) != 0) return -1;
    json_t *arr = json_object_get(in, "sign_as"), *x;
    size_t i;
    json_array_foreach(arr, i, x) {
        json_t *holder = json_is_string(x) ? json_pack("{s:O}", "org", x) : json_incref(x);
        int rc = json_is_object(holder)
                     ? org_field(holder, "org", 1, e)
                     : err_type(e, "sign_as", "sign_as[%zu]: an org or {org, role}", i);
        const char *role = json_string_value(json_object_get(holder, "role"));
        if (rc == 0 && json_object_get(holder, "role") && !role)
            rc = err_type(e, "sign_as", "sign_as[%zu].role: a string", i);
        if (rc == 0 && role && strcmp(role, "member") != 0 && strcmp(role, "admin") != 0)
            rc = err_invalid(e, "sign_as", "sign_as[%zu].role: \"member\" or \"admin\"", i);
        json_decref(holder);
        if (rc != 0) {
            snprintf(e->field, sizeof e->field, "sign_as");
            return -1;
        }
    }
    return 0;
}

int ledger_v_endorse(json_t *in, err_t *e) {
    if (is_object(in, e) != 0 || str_field(in, "type", 1, 1, TXCODEC_MAX_TYPE, e) != 0 ||
        org_field(in, "creator", 1, e) != 0 ||
        str_field(in, "nonce", 0, TXCODEC_MIN_NONCE, TXCODEC_MAX_NONCE, e) != 0 ||
        sets_ok(in, e) != 0 || sign_as_ok(in, e) != 0)
        return -1;
    json_t *p = json_object_get(in, "payload");
    if (json_is_string(p) && json_string_length(p) > TXCODEC_MAX_PAYLOAD)
        return err_invalid(e, "payload", "payload is larger than 1 MiB");
    return 0;
}

int ledger_v_submit(json_t *in, err_t *e) {
    if (is_object(in, e) != 0 || wait_field(in, e) != 0) return -1;
    json_t *tx = json_object_get(in, "tx"), *ends = json_object_get(in, "endorsements"), *x;
    if (!tx) return missing("tx", e);
    if (!b64_ok(tx, TXCODEC_MAX_ENCODED, 0))
        return err_invalid(e, "tx", "tx must be standard base64 (1 B..4 MiB)");
    if (!ends) return missing("endorsements", e);
    if (!json_is_array(ends)) return err_type(e, "endorsements", "endorsements must be an array");
    if (json_array_size(ends) < 1 || json_array_size(ends) > LEDGER_MAX_ENDORSEMENTS)
        return err_invalid(e, "endorsements", "1..64 endorsements needed");
    size_t i;
    json_array_foreach(
        ends, i, x) if (!json_is_object(x) || !hex32_ok(json_object_get(x, "public_key")) ||
                        !b64_ok(json_object_get(x, "signature"), 64,
                                64)) return err_invalid(e, "endorsements",
                                                        "endorsements[%zu]: public_key (64 hex) "
                                                        "and signature (base64, 64 bytes)",
                                                        i);
    return 0;
}

int ledger_v_status(json_t *in, err_t *e) {
    if (is_object(in, e) != 0 || hex32_field(in, "tx_id", 1, e) != 0 || wait_field(in, e) != 0)
        return -1;
    return 0;
}

int ledger_v_get_tx(json_t *in, err_t *e) {
    return is_object(in, e) != 0 ? -1 : hex32_field(in, "tx_id", 1, e);
}

int ledger_v_get_block(json_t *in, err_t *e) {
    return is_object(in, e) != 0 ? -1 : u64_field(in, "number", 1, 0, INT64_MAX, NULL, e);
}

/* two tree sizes (the first >= 1) or an index and a size: required, and ordered */
static int pair_ok(json_t *in, const char *a, const char *b, int strict, err_t *e) {
    uint64_t x, y;
    if (is_object(in, e) != 0 || u64_field(in, a, 1, strict ? 0 : 1, INT64_MAX, &x, e) != 0 ||
        u64_field(in, b, 1, 0, INT64_MAX, &y, e) != 0)
        return -1;
    if (strict ? x >= y : x > y)
        return err_invalid(e, a, "%s must be %s %s", a, strict ? "<" : "<=", b);
    return 0;
}

int ledger_v_consistency(json_t *in, err_t *e) {
    return pair_ok(in, "first", "second", 0, e);
}

int ledger_v_inclusion(json_t *in, err_t *e) {
    return pair_ok(in, "index", "size", 1, e);
}

int ledger_v_evaluate(json_t *in, err_t *e) {
    return is_object(in, e) != 0 ? -1 : str_field(in, "key", 1, 1, TXCODEC_MAX_KEY, e);
}

int ledger_v_cosign(json_t *in, err_t *e) {
    if (is_object(in, e) != 0 || org_field(in, "org", 1, e) != 0 ||
        str_field(in, "note", 0, 1, 64 * 1024, e) != 0)
        return -1;
    return 0;
}

int ledger_v_events(json_t *in, err_t *e) {
    if (is_object(in, e) != 0 || u64_field(in, "from_block", 0, 0, INT64_MAX / 2, NULL, e) != 0 ||
        u64_field(in, "from_position", 0, 0, LEDGER_MAX_BLOCK_TXS, NULL, e) != 0 ||
        u64_field(in, "limit", 0, 1, 100, NULL, e) != 0 || wait_field(in, e) != 0)
        return -1;
    return 0;
}
