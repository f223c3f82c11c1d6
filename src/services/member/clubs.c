/* clubs: see clubs.h. */
#include "services/member/clubs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cursor.h"
#include "core/json.h"
#include "core/rcache.h"
#include "services/member/member_standing.h"

static const char *const club_status_values[] = {"active", "suspended", NULL};
static const char *const facility_values[] = {
    "dining",    "bar",   "rooms",  "golf",    "fitness", "pool",    "tennis",
    "squash",    "padel", "spa",    "sailing", "marina",  "library", "business_centre",
    "parking",   "beach", "skiing", "riding",  "croquet", "bowls",   "events",
    "childcare", NULL};
static const char *const create_keys[] = {
    "name",      "slug",          "status",        "timezone", "address",    "latitude",
    "longitude", "contact_email", "contact_phone", "website",  "facilities", NULL};
static const char *const update_keys[] = {
    "id",        "name",          "slug",          "timezone", "address",    "latitude",
    "longitude", "contact_email", "contact_phone", "website",  "facilities", NULL};
static const char *const address_keys[] = {"lines",       "city",    "region",
                                           "postal_code", "country", NULL};

static const char iso_countries[] =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ "
    "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM "
    "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS "
    "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
    "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ "
    "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM "
    "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
    "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
    "VN VU WF WS YE YT ZA ZM ZW";

int clubs_is_country(const char *code) {
    if (!code || strlen(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' ||
        code[1] > 'Z')
        return 0;
    for (size_t i = 0; i + 1 < sizeof iso_countries; i += 3)
        if (iso_countries[i] == code[0] && iso_countries[i + 1] == code[1]) return 1;
    return 0;
}

/* ---- validation ---- */

static int is_slug(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 63) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0 && i < n - 1);
        if (!ok) return 0;
    }
    return 1;
}

static int is_timezone_name(const char *s) {
    /* IANA names: Area/Location[/Sub], or UTC; PostgreSQL confirms the name exists. */
    size_t n = strlen(s);
    if (n < 1 || n > 64 || s[0] == '/' || s[n - 1] == '/') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == '+' || (c == '/' && s[i + 1] != '/');
        if (!ok) return 0;
    }
    return (s[0] >= 'A' && s[0] <= 'Z');
}

static int validate_string_array(json_t *in, const char *prefix, const char *key,
                                 const char *const *allowed, size_t max_items, size_t max_len,
                                 err_t *e) {
    char name[64];
    snprintf(name, sizeof name, "%s%s", prefix, key);
    json_t *a = json_object_get(in, key);
    if (!a || json_is_null(a)) return 0;
    if (!json_is_array(a)) return err_type(e, name, "%s must be an array of strings", name);
    if (json_array_size(a) > max_items)
        return err_invalid(e, name, "%s has more than %zu items", name, max_items);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *s = json_string_value(v);
        char field[96];
        snprintf(field, sizeof field, "%s[%zu]", name, i);
        if (!s) return err_type(e, field, "%s must be a string", field);
        if (strlen(s) == 0 || strlen(s) > max_len)
            return err_invalid(e, field, "%s must be 1 to %zu characters", field, max_len);
        if (allowed) {
            int found = 0;
            for (const char *const *p = allowed; *p; p++)
                if (strcmp(*p, s) == 0) found = 1;
            if (!found)
                return err_invalid(
                    e, field,
                    "%s: unknown facility \"%.40s\" (allowed: dining, bar, rooms, "
                    "golf, fitness, pool, tennis, squash, padel, spa, sailing, marina, "
                    "library, business_centre, parking, beach, skiing, riding, "
                    "croquet, bowls, events, childcare)",
                    field, s);
            for (size_t k = 0; k < i; k++)
                if (strcmp(json_string_value(json_array_get(a, k)), s) == 0)
                    return err_invalid(e, field, "%s: \"%s\" is listed twice", field, s);
        }
    }
    return 0;
}

/* Validates the club fields; required = 1 for create (name, slug, timezone, address.country). */
static int validate_fields(json_t *in, int required, err_t *e) {
    const char *s;
    if (jsonx_string(in, "name", required, 1, 200, &s, e) != 0) return -1;
    if (jsonx_string(in, "slug", required, 1, 63, &s, e) != 0) return -1;
    if (s && !is_slug(s))
        return err_invalid(e, "slug",
                           "slug must be 1 to 63 lower-case letters, digits or inner hyphens");
    if (jsonx_string(in, "timezone", required, 1, 64, &s, e) != 0) return -1;
    if (s && !is_timezone_name(s))
        return err_invalid(e, "timezone",
                           "timezone must be an IANA time zone name such as Europe/London");
    json_t *addr = json_object_get(in, "address");
    if (required && !addr) return err_missing(e, "address");
    if (addr) {
        if (!json_is_object(addr)) return err_type(e, "address", "address must be an object");
        if (jsonx_only_keys(addr, address_keys, "address.", e) != 0) return -1;
        if (validate_string_array(addr, "address.", "lines", NULL, 4, 200, e) != 0) return -1;
        static const struct {
            const char *key, *field;
            size_t max;
        } parts[] = {{"city", "address.city", 100},
                     {"region", "address.region", 100},
                     {"postal_code", "address.postal_code", 20}};
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            if (jsonx_string(addr, parts[i].key, 0, 1, parts[i].max, &s, e) != 0) {
                snprintf(e->field, sizeof e->field, "%s", parts[i].field);
                return -1;
            }
        }
        json_t *c = json_object_get(addr, "country");
        if (required && (!c || json_is_null(c)))
            return err_set(e, 400, "missing_field", "address.country",
                           "address.country is required: an ISO 3166-1 alpha-2 code such as GB");
        if (json_is_null(c))
            return err_invalid(e, "address.country", "address.country cannot be null");
        if (c && !json_is_string(c))
            return err_type(e, "address.country",
                            "address.country must be a string: an ISO 3166-1 alpha-2 code");
        if (c) {
            char up[3] = {0};
            const char *cv = json_string_value(c);
            if (strlen(cv) == 2) {
                up[0] = (char)(cv[0] >= 'a' && cv[0] <= 'z' ? cv[0] - 32 : cv[0]);
                up[1] = (char)(cv[1] >= 'a' && cv[1] <= 'z' ? cv[1] - 32 : cv[1]);
            }
            if (!clubs_is_country(up))
                return err_invalid(e, "address.country",
                                   "address.country must be an ISO 3166-1 alpha-2 code such as GB");
            json_object_set_new(addr, "country", json_string(up));
        }
    }
    double lat = 0, lon = 0;
    int has_lat = 0, has_lon = 0;
    if (jsonx_number(in, "latitude", 0, -90, 90, &lat, &has_lat, e) != 0) return -1;
    if (jsonx_number(in, "longitude", 0, -180, 180, &lon, &has_lon, e) != 0) return -1;
    if (has_lat != has_lon)
        return err_invalid(e, has_lat ? "longitude" : "latitude",
                           "latitude and longitude must be given together");
    if (jsonx_string(in, "contact_email", 0, 3, 254, &s, e) != 0) return -1;
    if (s && !jsonx_is_email(s))
        return err_invalid(e, "contact_email", "contact_email must be an email address");
    if (jsonx_string(in, "contact_phone", 0, 8, 16, &s, e) != 0) return -1;
    if (s && !jsonx_is_e164(s))
        return err_invalid(e, "contact_phone",
                           "contact_phone must be in E.164 form, e.g. +442071234567");
    if (jsonx_string(in, "website", 0, 8, 2048, &s, e) != 0) return -1;
    if (s && !jsonx_is_http_url(s))
        return err_invalid(e, "website", "website must be an http:// or https:// URL");
    if (validate_string_array(in, "", "facilities", facility_values, 30, 40, e) != 0) return -1;
    return 0;
}

int clubs_validate_create(json_t *in, err_t *e) {
    if (jsonx_only_keys(in, create_keys, "", e) != 0) return -1;
    const char *status;
    if (jsonx_enum(in, "status", 0, club_status_values, &status, e) != 0) return -1;
    return validate_fields(in, 1, e);
}

int clubs_validate_ref(json_t *in, err_t *e) {
    const char *id;
    return jsonx_string(in, "id", 1, 1, 63, &id, e);
}

int clubs_validate_update(json_t *in, err_t *e) {
    if (json_object_get(in, "status"))
        return err_invalid(e, "status",
                           "status cannot be patched: use POST /api/v1/clubs/{id}/deactivate or "
                           "/activate");
    if (jsonx_only_keys(in, update_keys, "", e) != 0) return -1;
    if (clubs_validate_ref(in, e) != 0) return -1;
    if (json_object_size(in) < 2)
        return err_set(e, 400, "empty_patch", "", "the patch names no field to change");
    static const char *const not_null[] = {"name", "slug", "timezone", "address", NULL};
    for (const char *const *k = not_null; *k; k++)
        if (json_is_null(json_object_get(in, *k)))
            return err_invalid(e, *k, "%s cannot be null", *k);
    json_t *addr = json_object_get(in, "address");
    if (json_is_object(addr) && json_is_null(json_object_get(addr, "country")))
        return err_invalid(e, "address.country", "address.country cannot be null");
    return validate_fields(in, 0, e);
}

int clubs_validate_list(json_t *in, err_t *e) {
    static const char *const keys[] = {"limit", "after", "country", "status", "facility", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (cursor_page_validate(in, e) != 0) return -1;
    if (jsonx_enum(in, "status", 0, club_status_values, &s, e) != 0) return -1;
    if (jsonx_enum(in, "facility", 0, facility_values, &s, e) != 0) return -1;
    if (jsonx_string(in, "country", 0, 2, 2, &s, e) != 0) return -1;
    if (s) {
        char up[3] = {(char)(s[0] & ~0x20), (char)(s[1] & ~0x20), 0};
        if (!clubs_is_country(up))
            return err_invalid(e, "country",
                               "country must be an ISO 3166-1 alpha-2 code such as GB");
        json_object_set_new(in, "country", json_string(up));
    }
    return 0;
}

int clubs_validate_status(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "reason", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_string(in, "reason", 0, 1, 500, &s, e) != 0) return -1;
    return clubs_validate_ref(in, e);
}

/* ---- helpers ---- */

static char *json_param(json_t *v) {
    return (v && !json_is_null(v)) ? jsonx_dump(v) : NULL;
}

static char *number_param(json_t *v) {
    if (!json_is_number(v)) return NULL;
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", json_number_value(v));
    return strdup(buf);
}

/* PostgreSQL resolves the name against its time zone database. */
static int check_timezone(db_tx_t *tx, const char *tz, err_t *e) {
    if (!tz) return 0;
    const char *p[] = {tz};
    PGresult *r =
        db_exec(tx, "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)", 1, p, e);
    if (!r) return -1;
    int ok = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!ok)
        return err_invalid(e, "timezone", "timezone \"%.64s\" is not a known IANA time zone", tz);
    return 0;
}

static void slug_conflict(err_t *e) {
    if (e->status == 409)
        err_set(e, 409, "conflict", "slug", "a club with this slug already exists");
}

/* ---- operations ---- */

#define CLUB_COLUMNS                                                                               \
    "name, slug, status, timezone, address_lines, city, region, postal_code, country, latitude, "  \
    "longitude, contact_email, contact_phone, website, facilities"

int clubs_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    int rc = -1;
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    json_t *addr = json_object_get(in, "address");
    char *lines = json_param(json_object_get(addr, "lines"));
    char *facilities = json_param(json_object_get(in, "facilities"));
    char *lat = number_param(json_object_get(in, "latitude"));
    char *lon = number_param(json_object_get(in, "longitude"));
    const char *p[] = {
        json_string_value(json_object_get(in, "name")),
        json_string_value(json_object_get(in, "slug")),
        json_string_value(json_object_get(in, "status")),
        json_string_value(json_object_get(in, "timezone")),
        lines,
        json_string_value(json_object_get(addr, "city")),
        json_string_value(json_object_get(addr, "region")),
        json_string_value(json_object_get(addr, "postal_code")),
        json_string_value(json_object_get(addr, "country")),
        lat,
        lon,
        json_string_value(json_object_get(in, "contact_email")),
        json_string_value(json_object_get(in, "contact_phone")),
        json_string_value(json_object_get(in, "website")),
        facilities,
    };
    if (svc_begin(call, &tx, e) != 0) goto done;
    if (check_timezone(tx, p[3], e) != 0) goto done;
    r = db_exec(tx,
                "INSERT INTO member.clubs (" CLUB_COLUMNS ") VALUES ($1, $2, coalesce($3, "
                "'active'), $4, ARRAY(SELECT jsonb_array_elements_text(coalesce($5::jsonb, "
                "'[]'))), $6, $7, $8, $9, $10::float8, $11::float8, $12, $13, $14, ARRAY(SELECT "
                "jsonb_array_elements_text(coalesce($15::jsonb, '[]')))) RETURNING id, " CLUB_JSON,
                15, p, e);
    if (!r) {
        slug_conflict(e);
        goto done;
    }
    *out = db_json(r, 0, 1, e);
    if (!*out) goto done;
    if (svc_emit(call, tx, "club.created", PQgetvalue(r, 0, 0), json_pack("{s:O}", "club", *out),
                 e) != 0)
        goto done;
    rc = 0;
done:
    rc = db_tx_finish(&tx, rc, out, e);
    PQclear(r);
    free(lines), free(facilities), free(lat), free(lon);
    return rc;
}

/* Selects one club by uuid or slug; FOR UPDATE when locking. Returns the row or NULL (404). */
static PGresult *select_club(db_tx_t *tx, const char *ref, int lock, err_t *e) {
    const char *p[] = {ref};
    const char *sql;
    if (jsonx_is_uuid(ref))
        sql = lock ? "SELECT id, status, " CLUB_JSON " FROM member.clubs WHERE id = $1::uuid FOR "
                     "UPDATE"
                   : "SELECT id, status, " CLUB_JSON " FROM member.clubs WHERE id = $1::uuid";
    else
        sql = lock ? "SELECT id, status, " CLUB_JSON " FROM member.clubs WHERE slug = $1 FOR UPDATE"
                   : "SELECT id, status, " CLUB_JSON " FROM member.clubs WHERE slug = $1";
    PGresult *r = db_exec(tx, sql, 1, p, e);
    if (r && PQntuples(r) == 0) {
        PQclear(r);
        r = NULL;
        /* The directory is readable by everyone, but FOR UPDATE only sees rows the caller may
         * change: tell "not yours" (403) from "no such club" (404). */
        if (lock && (r = select_club(tx, ref, 0, e)) != NULL) {
            PQclear(r);
            err_set(e, 403, "forbidden", "id",
                    "only the club's administrators or a network administrator may change it");
            return NULL;
        }
        if (!lock) err_set(e, 404, "not_found", "id", "no club with id or slug \"%.63s\"", ref);
        return NULL;
    }
    return r;
}

/* ---- the club read cache (core/rcache.h) ----
 * A club's document is directory data (policy clubs_read: every caller with club:read sees the
 * same row), so it is cached under no tenant, keyed by the reference the request used ("id:" or
 * "slug:" + the text) and tagged with the club's id: club.updated and club.status_changed (the
 * events' tenant_id is the club) drop every form. */

static const char *const club_events[] = {"events.club.updated", "events.club.status_changed",
                                          NULL};

static rcache_t *club_cache(void) {
    static rcache_slot_t slot;
    return rcache_at(&slot, "clubs");
}

static void on_club_event(rcache_t *c, const char *subject, const json_t *envelope) {
    (void)subject;
    const char *club = json_string_value(json_object_get(envelope, "tenant_id"));
    if (club)
        rcache_invalidate(c, NULL, club);
    else
        rcache_clear(c); /* unreadable: any club may have changed */
}

int clubs_cache_follow(const svc_env_t *env, err_t *e) {
    rcache_t *c = club_cache();
    if (!c) return err_set(e, 500, "internal", "", "out of memory");
    return rcache_follow(c, env->bus, club_events, on_club_event, e);
}

/* After a committed change of club id: this process drops it at once (the others on the
 * event). */
static void club_changed(const char *id) {
    rcache_t *c = club_cache();
    if (c) rcache_invalidate(c, NULL, id);
    standing_changed(id); /* the standings carry the club's name, place and time zone */
}

int clubs_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    /* from the read cache when it holds the club; else one round trip (db_read: BEGIN READ
     * ONLY, scope, the SELECT, COMMIT), the document answered as PostgreSQL built it
     * (db_json_raw: no parse, no print) and kept for the next request */
    const char *ref = json_string_value(json_object_get(in, "id"));
    const char *p[] = {ref};
    int by_id = jsonx_is_uuid(ref);
    char key[96], *text = NULL;
    size_t len = 0;
    rcache_t *c = club_cache();
    snprintf(key, sizeof key, "%s:%.80s", by_id ? "id" : "slug", ref);
    if (c && rcache_get(c, NULL, key, &text, &len)) {
        *out = jsonx_raw(text, len, e);
        free(text);
        return *out ? 0 : -1;
    }
    uint64_t epoch = c ? rcache_epoch(c) : 0;
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r =
        db_read(call->env->db, &scope,
                by_id ? "SELECT id, status, " CLUB_JSON " FROM member.clubs WHERE id = $1::uuid"
                      : "SELECT id, status, " CLUB_JSON " FROM member.clubs WHERE slug = $1",
                1, p, e);
    if (!r) return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(e, 404, "not_found", "id", "no club with id or slug \"%.63s\"", ref);
    }
    *out = db_json_raw(r, 0, 2, e);
    const char *raw = *out ? jsonx_raw_text(*out, &len) : NULL;
    if (c && raw) rcache_put(c, NULL, key, PQgetvalue(r, 0, 0), raw, len, epoch);
    PQclear(r);
    return *out ? 0 : -1;
}

int clubs_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    int rc = -1;
    db_tx_t *tx = NULL;
    PGresult *r = NULL;
    cursor_page_t pg;
    if (cursor_page_begin(in, 20, "clubs", "Tu", &pg, e) != 0) return -1;
    const char *p[] = {
        json_string_value(json_object_get(in, "country")),
        json_string_value(json_object_get(in, "status")),
        json_string_value(json_object_get(in, "facility")),
        cursor_page_key(&pg, 0),
        cursor_page_key(&pg, 1),
        pg.fetch,
    };
    if (svc_begin(call, &tx, e) != 0) return -1;
    r = db_exec(tx,
                "SELECT " CLUB_JSON ", to_char(created_at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), id FROM member.clubs "
                "WHERE ($1::text IS NULL OR country = $1) AND ($2::text IS NULL OR status = $2) "
                "AND ($3::text IS NULL OR facilities @> ARRAY[$3::text]) "
                "AND ($4::timestamptz IS NULL OR (created_at, id) > ($4::timestamptz, $5::uuid)) "
                "ORDER BY created_at, id LIMIT $6::int",
                6, p, e);
    if (!r) {
        cursor_page_failed(e);
        goto done;
    }
    *out = cursor_page_output(r, pg.limit, "clubs", "Tu", e);
    rc = *out ? 0 : -1;
done:
    PQclear(r);
    return db_tx_finish(&tx, rc, out, e);
}

/* Names of the top-level (and address.*) fields whose values differ between two clubs. */
static json_t *changed_fields(json_t *before, json_t *after) {
    json_t *changed = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(after, k, v) {
        if (strcmp(k, "updated_at") == 0) continue;
        json_t *old = json_object_get(before, k);
        if (strcmp(k, "address") == 0 && json_is_object(v)) {
            const char *ak;
            json_t *av;
            json_object_foreach(v, ak, av) {
                if (!json_equal(av, json_object_get(old, ak))) {
                    char name[64];
                    snprintf(name, sizeof name, "address.%s", ak);
                    json_array_append_new(changed, json_string(name));
                }
            }
        } else if (!json_equal(old, v)) {
            json_array_append_new(changed, json_string(k));
        }
    }
    return changed;
}

int clubs_update(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    int rc = -1;
    db_tx_t *tx = NULL;
    PGresult *cur = NULL, *r = NULL;
    json_t *before = NULL;
    char *patch = NULL;
    json_t *patch_obj = json_deep_copy(in);
    json_object_del(patch_obj, "id");
    patch = jsonx_dump(patch_obj);
    json_decref(patch_obj);
    if (svc_begin(call, &tx, e) != 0) goto done;
    if (check_timezone(tx, json_string_value(json_object_get(in, "timezone")), e) != 0) goto done;
    cur = select_club(tx, json_string_value(json_object_get(in, "id")), 1, e);
    if (!cur) goto done;
    before = db_json(cur, 0, 2, e);
    if (!before) goto done;
    const char *p[] = {PQgetvalue(cur, 0, 0), patch};
    r = db_exec(
        tx,
        "UPDATE member.clubs SET "
        "name = CASE WHEN p ? 'name' THEN p->>'name' ELSE name END, "
        "slug = CASE WHEN p ? 'slug' THEN p->>'slug' ELSE slug END, "
        "timezone = CASE WHEN p ? 'timezone' THEN p->>'timezone' ELSE timezone END, "
        "address_lines = CASE WHEN a ? 'lines' THEN ARRAY(SELECT "
        "jsonb_array_elements_text(coalesce(nullif(a->'lines', 'null'), '[]'))) ELSE "
        "address_lines END, "
        "city = CASE WHEN a ? 'city' THEN a->>'city' ELSE city END, "
        "region = CASE WHEN a ? 'region' THEN a->>'region' ELSE region END, "
        "postal_code = CASE WHEN a ? 'postal_code' THEN a->>'postal_code' ELSE postal_code END, "
        "country = CASE WHEN a ? 'country' THEN a->>'country' ELSE country END, "
        "latitude = CASE WHEN p ? 'latitude' THEN (p->>'latitude')::float8 ELSE latitude END, "
        "longitude = CASE WHEN p ? 'longitude' THEN (p->>'longitude')::float8 ELSE longitude END, "
        "contact_email = CASE WHEN p ? 'contact_email' THEN p->>'contact_email' ELSE "
        "contact_email END, "
        "contact_phone = CASE WHEN p ? 'contact_phone' THEN p->>'contact_phone' ELSE "
        "contact_phone END, "
        "website = CASE WHEN p ? 'website' THEN p->>'website' ELSE website END, "
        "facilities = CASE WHEN p ? 'facilities' THEN ARRAY(SELECT "
        "jsonb_array_elements_text(coalesce(nullif(p->'facilities', 'null'), '[]'))) ELSE "
        "facilities END, "
        "updated_at = now() "
        "FROM (SELECT $2::jsonb AS p, coalesce($2::jsonb->'address', '{}') AS a) AS patch "
        "WHERE id = $1::uuid RETURNING " CLUB_JSON,
        2, p, e);
    if (!r) {
        slug_conflict(e);
        goto done;
    }
    *out = db_json(r, 0, 0, e);
    if (!*out) goto done;
    json_t *changed = changed_fields(before, *out);
    if (json_array_size(changed) > 0) {
        if (svc_emit(call, tx, "club.updated", PQgetvalue(cur, 0, 0),
                     json_pack("{s:O, s:o}", "club", *out, "changed_fields", changed), e) != 0)
            goto done;
    } else {
        json_decref(changed);
    }
    rc = 0;
done:
    rc = db_tx_finish(&tx, rc, out, e);
    if (rc == 0) club_changed(PQgetvalue(cur, 0, 0));
    PQclear(cur), PQclear(r), json_decref(before), free(patch);
    return rc;
}

/* Tells the auth service (operation club_suspend / club_resume, as the same caller) that the
 * club is suspended (its sessions end at once, no token is issued for it) or active again.
 * Called before the member transaction commits, so a failure leaves the club unchanged; the
 * auth side is idempotent, so retrying the request completes both. */
static int tell_auth(const svc_call_t *call, const char *club, const char *to, err_t *e) {
    json_t *in = json_pack("{s:s}", "club_id", club), *res = NULL;
    int status = 0;
    int rc =
        svc_call(call->env, "auth", strcmp(to, "suspended") == 0 ? "club_suspend" : "club_resume",
                 call->caller, in, &status, &res, e);
    json_decref(in);
    json_decref(res);
    return rc;
}

static int set_status(const svc_call_t *call, json_t *in, const char *to, json_t **out, err_t *e) {
    int rc = -1;
    db_tx_t *tx = NULL;
    PGresult *cur = NULL, *r = NULL;
    if (svc_begin(call, &tx, e) != 0) return -1;
    cur = select_club(tx, json_string_value(json_object_get(in, "id")), 1, e);
    if (!cur) goto done;
    const char *from = PQgetvalue(cur, 0, 1);
    if (tell_auth(call, PQgetvalue(cur, 0, 0), to, e) != 0) goto done;
    if (strcmp(from, to) == 0) { /* idempotent: already there, nothing to record */
        *out = db_json(cur, 0, 2, e);
        PQclear(cur);
        cur = NULL;
        if (*out) rc = 0;
        goto done;
    }
    const char *p[] = {PQgetvalue(cur, 0, 0), to};
    r = db_exec(tx,
                "UPDATE member.clubs SET status = $2, updated_at = now() WHERE id = $1::uuid "
                "RETURNING " CLUB_JSON,
                2, p, e);
    if (!r) goto done;
    *out = db_json(r, 0, 0, e);
    if (!*out) goto done;
    json_t *reason = json_object_get(in, "reason");
    if (svc_emit(call, tx, "club.status_changed", PQgetvalue(cur, 0, 0),
                 json_pack("{s:s, s:s, s:s, s:O}", "club_id", PQgetvalue(cur, 0, 0), "from", from,
                           "to", to, "reason", reason ? reason : json_null()),
                 e) != 0)
        goto done;
    rc = 0;
done:
    rc = db_tx_finish(&tx, rc, out, e);
    if (rc == 0 && cur) club_changed(PQgetvalue(cur, 0, 0));
    PQclear(cur), PQclear(r);
    return rc;
}

int clubs_deactivate(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return set_status(call, in, "suspended", out, e);
}

int clubs_activate(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return set_status(call, in, "active", out, e);
}
