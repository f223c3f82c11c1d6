/* member_csv: see member_csv.h. */
#include "services/member/member_csv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "services/member/member_common.h"
#include "services/member/members_search.h"

#define CSV_MAX_ROWS 50000
#define CSV_MAX_ERRORS 500

#define AUTH_LINKS_MAX 10000 /* the auth service's users_in_club limit */

/* Import columns: where each goes in the member input object ("" = top level). */
static const struct {
    const char *column;
    const char *object; /* NULL top, "profile", "address" (home), "link" */
    const char *key;
} columns[] = {
    {"member_number", NULL, "member_number"},
    {"category", NULL, "category"},
    {"status", "status", "status"},
    {"joined_on", NULL, "joined_on"},
    {"expires_on", NULL, "expires_on"},
    {"auth_user_id", NULL, "auth_user_id"},
    {"directory_opt_in", NULL, "directory_opt_in"},
    {"first_name", "profile", "first_name"},
    {"last_name", "profile", "last_name"},
    {"preferred_name", "profile", "preferred_name"},
    {"email", "profile", "email"},
    {"phone", "profile", "phone"},
    {"date_of_birth", "profile", "date_of_birth"},
    {"language", "profile", "language"},
    {"address_line1", "address", "line1"},
    {"address_line2", "address", "line2"},
    {"city", "address", "city"},
    {"region", "address", "region"},
    {"postal_code", "address", "postal_code"},
    {"country", "address", "country"},
    {"latitude", "address", "latitude"}, /* decimal degrees, WGS 84: both or neither */
    {"longitude", "address", "longitude"},
    {"primary_member_number", "link", "primary_member_number"},
    {"relationship", "link", "relationship"},
};
#define N_COLUMNS (sizeof columns / sizeof columns[0])

json_t *member_csv_parse(const char *s, size_t len, int **line_of, err_t *e) {
    json_t *rows = json_array();
    size_t cap = 1024, n = 0;
    int *lines = malloc(cap * sizeof *lines);
    char *field = malloc(len + 1);
    if (!rows || !lines || !field) goto oom;
    size_t i = 0;
    int line = 1;
    if (len >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
        (unsigned char)s[2] == 0xBF)
        i = 3; /* BOM */
    while (i < len) {
        json_t *rec = json_array();
        int start = line;
        for (;;) {
            size_t f = 0;
            if (i < len && s[i] == '"') {
                i++;
                for (;;) {
                    if (i >= len) {
                        json_decref(rec);
                        err_set(e, 422, "invalid_csv", "csv",
                                "line %d: a quoted field is not closed", start);
                        goto fail;
                    }
                    if (s[i] == '"') {
                        if (i + 1 < len && s[i + 1] == '"') {
                            field[f++] = '"';
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (s[i] == '\n') line++;
                    field[f++] = s[i++];
                }
                if (i < len && s[i] != ',' && s[i] != '\n' && s[i] != '\r') {
                    json_decref(rec);
                    err_set(e, 422, "invalid_csv", "csv", "line %d: text after a closing quote",
                            line);
                    goto fail;
                }
            } else {
                while (i < len && s[i] != ',' && s[i] != '\n' && s[i] != '\r')
                    field[f++] = s[i++];
            }
            field[f] = 0;
            json_t *v = json_stringn(field, f);
            if (!v) {
                json_decref(rec);
                err_set(e, 422, "invalid_csv", "csv", "line %d: text is not valid UTF-8", start);
                goto fail;
            }
            json_array_append_new(rec, v);
            if (i < len && s[i] == ',') {
                i++;
                continue;
            }
            if (i < len && s[i] == '\r') i++;
            if (i < len && s[i] == '\n') i++;
            line++;
            break;
        }
        /* skip blank lines */
        if (json_array_size(rec) == 1 && !*json_string_value(json_array_get(rec, 0))) {
            json_decref(rec);
            continue;
        }
        if (n >= CSV_MAX_ROWS + 1) {
            json_decref(rec);
            err_set(e, 413, "too_many_rows", "csv", "at most %d rows per import", CSV_MAX_ROWS);
            goto fail;
        }
        if (n == cap) {
            cap *= 2;
            int *nl = realloc(lines, cap * sizeof *lines);
            if (!nl) {
                json_decref(rec);
                goto oom;
            }
            lines = nl;
        }
        lines[n++] = start;
        json_array_append_new(rows, rec);
    }
    free(field);
    *line_of = lines;
    return rows;
oom:
    err_set(e, 500, "internal", "", "out of memory reading the CSV");
fail:
    json_decref(rows);
    free(lines);
    free(field);
    return NULL;
}

int member_csv_validate_import(json_t *in, err_t *e) {
    static const char *const keys[] = {"club_id", "csv", "dry_run", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    if (member_valid_club_ref(in, e) != 0) return -1;
    int dry;
    if (jsonx_bool(in, "dry_run", 0, 0, &dry, e) != 0) return -1;
    json_t *csv = json_object_get(in, "csv");
    if (!csv || json_is_null(csv))
        return err_set(e, 400, "missing_field", "csv",
                       "csv is required: the CSV text with a header row");
    if (!json_is_string(csv))
        return err_type(e, "csv", "csv must be a string: the CSV text with a header row");
    return 0;
}

int member_csv_validate_export(json_t *in, err_t *e) {
    json_t *copy = json_deep_copy(in);
    int rc = members_validate_list(copy, e);
    json_decref(copy);
    if (rc == 0 && json_object_get(in, "limit"))
        return err_set(e, 400, "unknown_field", "limit", "the export has no limit parameter");
    return rc;
}

/* Field path of a validation error -> CSV column name. */
static const char *column_of(const char *field) {
    const char *dot = strrchr(field, '.');
    const char *k = dot ? dot + 1 : field;
    if (strncmp(field, "addresses.home.lines", 20) == 0) return "address_line1";
    for (size_t i = 0; i < N_COLUMNS; i++)
        if (strcmp(columns[i].key, k) == 0) return columns[i].column;
    return field;
}

static void add_error(json_t *errors, int line, const char *column, const char *code,
                      const char *msg) {
    if (json_array_size(errors) >= CSV_MAX_ERRORS) return;
    json_array_append_new(errors, json_pack("{s:i, s:s, s:s, s:s}", "line", line, "column", column,
                                            "code", code, "message", msg));
}

typedef struct import_state {
    json_t *rows;   /* member input objects, one per data row */
    int *lines;     /* CSV line of each */
    json_t *errors; /* [{line, column, code, message}] */
    size_t n;
} import_state_t;

static const char *const status_values[] = {"pending",  "active",   "suspended", "lapsed",
                                            "resigned", "deceased", NULL};

/* Builds and validates every row in C (no I/O). */
static int build_rows(json_t *records, int *line_of, import_state_t *st, err_t *e) {
    size_t nrec = json_array_size(records);
    if (nrec == 0) return err_set(e, 422, "invalid_csv", "csv", "the CSV has no header row");
    json_t *header = json_array_get(records, 0);
    int map[64];
    size_t ncol = json_array_size(header);
    if (ncol > 64) return err_set(e, 422, "invalid_csv", "csv", "line 1: too many columns");
    int seen[N_COLUMNS] = {0};
    for (size_t c = 0; c < ncol; c++) {
        const char *h = json_string_value(json_array_get(header, c));
        map[c] = -1;
        for (size_t k = 0; k < N_COLUMNS; k++)
            if (strcmp(h, columns[k].column) == 0) map[c] = (int)k;
        if (map[c] < 0) {
            add_error(st->errors, 1, h, "unknown_column", "unknown column");
        } else if (seen[map[c]]++) {
            add_error(st->errors, 1, h, "duplicate_column", "column given twice");
        }
    }
    static const char *const required[] = {"category", "first_name", "last_name", NULL};
    for (const char *const *r = required; *r; r++) {
        int found = 0;
        for (size_t k = 0; k < N_COLUMNS; k++)
            if (seen[k] && strcmp(columns[k].column, *r) == 0) found = 1;
        if (!found) add_error(st->errors, 1, *r, "missing_column", "required column is missing");
    }
    if (json_array_size(st->errors)) return 0;
    json_t *numbers = json_object(); /* member_number -> line */
    for (size_t r = 1; r < nrec; r++) {
        json_t *rec = json_array_get(records, r);
        int line = line_of[r];
        if (json_array_size(rec) != ncol) {
            char msg[96];
            snprintf(msg, sizeof msg, "expected %zu fields, found %zu", ncol, json_array_size(rec));
            add_error(st->errors, line, "", "field_count", msg);
            continue;
        }
        json_t *m = json_object(), *prof = json_object(), *addr = json_object(),
               *lines = json_array();
        const char *status = NULL, *pnum = NULL, *rel = NULL;
        int bad_number = 0;
        for (size_t c = 0; c < ncol; c++) {
            const char *v = json_string_value(json_array_get(rec, c));
            if (!*v) continue;
            const char *obj = columns[map[c]].object, *key = columns[map[c]].key;
            if (!obj)
                json_object_set_new(m, key, json_string(v));
            else if (!strcmp(obj, "profile"))
                json_object_set_new(prof, key, json_string(v));
            else if (!strcmp(obj, "status"))
                status = v;
            else if (!strcmp(obj, "address") && !strncmp(key, "line", 4))
                json_array_append_new(lines, json_string(v));
            else if (!strcmp(obj, "address") &&
                     (!strcmp(key, "latitude") || !strcmp(key, "longitude"))) {
                char *end = NULL;
                double d = strtod(v, &end);
                if (end == v || *end || d != d) {
                    char msg[64];
                    snprintf(msg, sizeof msg, "%s must be a number of degrees", key);
                    add_error(st->errors, line, key, "invalid_field", msg);
                    bad_number = 1;
                } else
                    json_object_set_new(addr, key, json_real(d));
            } else if (!strcmp(obj, "address"))
                json_object_set_new(addr, key, json_string(v));
            else if (!strcmp(key, "primary_member_number"))
                pnum = v;
            else
                rel = v;
        }
        json_object_set_new(m, "profile", prof);
        if (json_array_size(lines)) json_object_set(addr, "lines", lines);
        json_decref(lines);
        if (json_object_size(addr)) {
            json_object_set_new(m, "addresses", json_pack("{s:O}", "home", addr));
        }
        json_decref(addr);
        err_t ve = {0};
        int ok = !bad_number;
        json_t *dopt = json_object_get(m, "directory_opt_in");
        if (dopt) {
            const char *dv = json_string_value(dopt);
            if (!strcmp(dv, "true") || !strcmp(dv, "yes") || !strcmp(dv, "1"))
                json_object_set_new(m, "directory_opt_in", json_true());
            else if (!strcmp(dv, "false") || !strcmp(dv, "no") || !strcmp(dv, "0"))
                json_object_set_new(m, "directory_opt_in", json_false());
            else {
                add_error(st->errors, line, "directory_opt_in", "invalid_field",
                          "directory_opt_in must be true or false");
                ok = 0;
            }
        }
        if (ok && member_valid_member_fields(m, 1, "", &ve) != 0) {
            add_error(st->errors, line, column_of(ve.field), ve.code, ve.message);
            ok = 0;
        }
        if (status) {
            int known = 0;
            for (const char *const *s = status_values; *s; s++)
                known |= !strcmp(*s, status);
            if (!known) {
                add_error(st->errors, line, "status", "invalid_field",
                          "status must be one of pending, active, suspended, lapsed, resigned, "
                          "deceased");
                ok = 0;
            }
        }
        if ((pnum != NULL) != (rel != NULL)) {
            add_error(st->errors, line, pnum ? "relationship" : "primary_member_number",
                      "missing_field", "primary_member_number and relationship go together");
            ok = 0;
        } else if (rel && strcmp(rel, "spouse") && strcmp(rel, "partner") && strcmp(rel, "child") &&
                   strcmp(rel, "other")) {
            add_error(st->errors, line, "relationship", "invalid_field",
                      "relationship must be spouse, partner, child or other");
            ok = 0;
        }
        const char *num = json_string_value(json_object_get(m, "member_number"));
        if (ok && num) {
            json_t *prev = json_object_get(numbers, num);
            if (prev) {
                char msg[96];
                snprintf(msg, sizeof msg, "member_number repeats line %lld",
                         (long long)json_integer_value(prev));
                add_error(st->errors, line, "member_number", "duplicate", msg);
                ok = 0;
            } else {
                json_object_set_new(numbers, num, json_integer(line));
            }
        }
        json_object_set_new(m, "status", json_string(status ? status : "active"));
        if (pnum) json_object_set_new(m, "primary_member_number", json_string(pnum));
        if (rel) json_object_set_new(m, "relationship", json_string(rel));
        json_object_set_new(m, "line", json_integer(line));
        json_array_append_new(st->rows, m);
    }
    /* dependents must point at a primary member in the file (checked against the club too) */
    size_t i;
    json_t *m;
    json_array_foreach(st->rows, i, m) {
        const char *pn = json_string_value(json_object_get(m, "primary_member_number"));
        if (pn && !json_object_get(numbers, pn))
            json_object_set_new(m, "primary_outside_file", json_true());
    }
    json_decref(numbers);
    st->n = json_array_size(st->rows);
    return 0;
}

/* Checks against the database: numbers already taken, unknown categories, primaries. */
static int check_db(mctx_t *c, import_state_t *st, err_t *e) {
    char *rows = jsonx_dump(st->rows);
    const char *p[] = {rows};
    PGresult *r = db_exec(
        c->tx,
        "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(line int, member_number "
        "text, category text, primary_member_number text, primary_outside_file boolean)) "
        "SELECT line, 'member_number', 'conflict', 'member_number is already taken' FROM x "
        "WHERE EXISTS (SELECT 1 FROM member.members m WHERE m.club_id = core.current_club() AND "
        "m.member_number = x.member_number) "
        "UNION ALL SELECT line, 'category', 'invalid_field', 'category is neither built in nor "
        "one of the club''s categories' FROM x WHERE NOT x.category = ANY "
        "(member.builtin_categories()) AND NOT EXISTS (SELECT 1 FROM member.categories k WHERE "
        "k.club_id = core.current_club() AND k.code = x.category) "
        "UNION ALL SELECT line, 'primary_member_number', 'not_found', 'no primary member with "
        "this number in the file or the club' FROM x WHERE x.primary_outside_file AND NOT EXISTS "
        "(SELECT 1 FROM member.members m WHERE m.club_id = core.current_club() AND "
        "m.member_number = x.primary_member_number AND m.primary_member_id IS NULL) "
        "ORDER BY 1",
        1, p, e);
    free(rows);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r); i++)
        add_error(st->errors, atoi(PQgetvalue(r, i, 0)), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                  PQgetvalue(r, i, 3));
    PQclear(r);
    return 0;
}

static int cmp_errors(const void *a, const void *b) {
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return (int)(json_integer_value(json_object_get(x, "line")) -
                 json_integer_value(json_object_get(y, "line")));
}

static void sort_errors(json_t *errors) {
    size_t n = json_array_size(errors);
    if (n < 2) return;
    json_t **v = malloc(n * sizeof *v);
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(errors, i));
    qsort(v, n, sizeof *v, cmp_errors);
    json_array_clear(errors);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(errors, v[i]);
    free(v);
}

/* Set-based insert of every row (members, profiles, home addresses, history), then links. */
static int insert_rows(mctx_t *c, import_state_t *st, err_t *e) {
    /* numbers for rows without one, from the club's pattern */
    long long missing = 0;
    size_t i;
    json_t *m;
    json_array_foreach(st->rows, i, m) if (!json_object_get(m, "member_number")) missing++;
    if (missing) {
        char pattern[64];
        long long first;
        if (member_reserve_numbers(c, missing, pattern, sizeof pattern, &first, e) != 0) return -1;
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        json_array_foreach(st->rows, i, m) if (!json_object_get(m, "member_number")) {
            char num[64];
            if (member_format_number(pattern, first++, tm.tm_year + 1900, num, sizeof num) != 0)
                return err_invalid(e, "member_number",
                                   "the club's number pattern gives an invalid number");
            json_object_set_new(m, "member_number", json_string(num));
        }
    }
    char *rows = jsonx_dump(st->rows);
    const svc_caller_t *k = c->call->caller;
    const char *p[] = {rows, k->user_id[0] ? k->user_id : NULL,
                       k->request_id[0] ? k->request_id : NULL};
    PGresult *r = db_exec(
        c->tx,
        "WITH x AS (SELECT * FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(j, n)), "
        "m AS (INSERT INTO member.members (club_id, member_number, category, status, joined_on, "
        "expires_on, home_club_id, auth_user_id, relationship, directory_opt_in) SELECT "
        "core.current_club(), j->>'member_number', j->>'category', "
        "(j->>'status')::member.member_status_enum, coalesce((j->>'joined_on')::date, "
        "current_date), (j->>'expires_on')::date, core.current_club(), "
        "(j->>'auth_user_id')::uuid, NULL, coalesce((j->>'directory_opt_in')::boolean, false) "
        "FROM x ORDER BY n RETURNING club_id, id, member_number, status), "
        "p AS (INSERT INTO member.profiles (club_id, member_id, first_name, last_name, "
        "preferred_name, email, phone, date_of_birth, language) SELECT m.club_id, m.id, "
        "x.j->'profile'->>'first_name', x.j->'profile'->>'last_name', "
        "x.j->'profile'->>'preferred_name', x.j->'profile'->>'email', "
        "x.j->'profile'->>'phone', (x.j->'profile'->>'date_of_birth')::date, "
        "x.j->'profile'->>'language' FROM m JOIN x ON x.j->>'member_number' = m.member_number), "
        "a AS (INSERT INTO member.addresses (club_id, member_id, kind, lines, city, region, "
        "postal_code, country, latitude, longitude) SELECT m.club_id, m.id, 'home', ARRAY(SELECT "
        "jsonb_array_elements_text(coalesce(x.j->'addresses'->'home'->'lines', '[]'))), "
        "x.j->'addresses'->'home'->>'city', x.j->'addresses'->'home'->>'region', "
        "x.j->'addresses'->'home'->>'postal_code', x.j->'addresses'->'home'->>'country', "
        "(x.j->'addresses'->'home'->>'latitude')::float8, "
        "(x.j->'addresses'->'home'->>'longitude')::float8 FROM m "
        "JOIN x ON x.j->>'member_number' = m.member_number WHERE x.j->'addresses' ? 'home'), "
        "h AS (INSERT INTO member.status_history (club_id, member_id, from_status, to_status, "
        "reason, changed_by, request_id) SELECT club_id, id, NULL, status, 'imported', $2::uuid, "
        "$3 FROM m) "
        "SELECT id, member_number FROM m",
        3, p, e);
    free(rows);
    if (!r) return -1;
    int n = PQntuples(r);
    PQclear(r);
    /* dependents: link to their primary by member number, in the file or the club */
    char *links = NULL;
    json_t *lj = json_array();
    json_array_foreach(st->rows, i, m) {
        const char *pn = json_string_value(json_object_get(m, "primary_member_number"));
        if (pn)
            json_array_append_new(lj, json_pack("{s:O, s:s, s:O}", "n",
                                                json_object_get(m, "member_number"), "p", pn, "r",
                                                json_object_get(m, "relationship")));
    }
    if (json_array_size(lj)) {
        links = jsonx_dump(lj);
        const char *q[] = {links};
        long long u = db_exec_cmd(
            c->tx,
            "UPDATE member.members d SET primary_member_id = pm.id, relationship = l.r FROM "
            "jsonb_to_recordset($1::jsonb) AS l(n text, p text, r text), member.members pm "
            "WHERE d.club_id = core.current_club() AND d.member_number = l.n AND pm.club_id = "
            "core.current_club() AND pm.member_number = l.p AND pm.primary_member_id IS NULL",
            1, q, e);
        free(links);
        if (u < 0) {
            json_decref(lj);
            return -1;
        }
        if (u != (long long)json_array_size(lj)) {
            json_decref(lj);
            return err_invalid(e, "primary_member_number",
                               "a primary_member_number names a dependent, not a primary member");
        }
    }
    json_decref(lj);
    return n;
}

/* Rows linking an account (auth_user_id) name accounts of this club (the auth service says
 * which exist, one call for the file's distinct ids); the import itself needs member:admin,
 * which linking does. */
static int check_links(mctx_t *c, import_state_t *st, err_t *e) {
    json_t *ids = json_array(), *seen = json_object(), *found = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(st->rows, i, m) {
        const char *u = json_string_value(json_object_get(m, "auth_user_id"));
        if (u && !json_object_get(seen, u)) {
            json_object_set_new(seen, u, json_true());
            json_array_append_new(ids, json_string(u));
        }
    }
    int rc = 0;
    if (json_array_size(ids) > AUTH_LINKS_MAX) {
        rc = err_invalid(e, "auth_user_id", "an import may link at most %d accounts",
                         AUTH_LINKS_MAX);
    } else if (json_array_size(ids) > 0 && (rc = member_accounts_in_club(c, ids, &found, e)) == 0) {
        json_array_foreach(st->rows, i, m) {
            const char *u = json_string_value(json_object_get(m, "auth_user_id"));
            char low[40];
            size_t k = 0;
            for (; u && u[k] && k + 1 < sizeof low; k++)
                low[k] = (char)tolower((unsigned char)u[k]);
            low[k] = 0;
            if (u && !json_object_get(found, low))
                add_error(st->errors, (int)json_integer_value(json_object_get(m, "line")),
                          "auth_user_id", "invalid_field",
                          "auth_user_id is not an account of this club");
        }
    }
    json_decref(found);
    json_decref(seen);
    json_decref(ids);
    return rc;
}

int member_csv_import(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    mctx_t c;
    int dry = 0;
    jsonx_bool(in, "dry_run", 0, 0, &dry, e);
    const char *text = json_string_value(json_object_get(in, "csv"));
    int *line_of = NULL;
    json_t *records =
        member_csv_parse(text, json_string_length(json_object_get(in, "csv")), &line_of, e);
    if (!records) return -1;
    import_state_t st = {.rows = json_array(), .errors = json_array()};
    int rc = build_rows(records, line_of, &st, e);
    json_decref(records);
    free(line_of);
    if (rc != 0) goto fail_free;
    if (member_begin(call, in, &c, e) != 0) goto fail_free;
    if (st.n && check_db(&c, &st, e) != 0) goto fail;
    if (st.n && check_links(&c, &st, e) != 0) goto fail;
    sort_errors(st.errors);
    size_t nerr = json_array_size(st.errors);
    if (dry || nerr) {
        member_rollback(&c);
        if (!dry) {
            json_t *first = json_array_get(st.errors, 0);
            err_set(e, 422, "import_invalid", json_string_value(json_object_get(first, "column")),
                    "%zu error(s), nothing imported; first: line %lld, column %s: %s (run with "
                    "dry_run=true to list them all)",
                    nerr, (long long)json_integer_value(json_object_get(first, "line")),
                    json_string_value(json_object_get(first, "column")),
                    json_string_value(json_object_get(first, "message")));
            goto fail_free;
        }
        *out = json_pack("{s:b, s:I, s:b, s:I, s:o}", "dry_run", 1, "rows", (json_int_t)st.n,
                         "valid", nerr == 0, "imported", (json_int_t)0, "errors", st.errors);
        json_decref(st.rows);
        return 0;
    }
    int n = insert_rows(&c, &st, e);
    if (n < 0) goto fail;
    /* one member.created per member: ids only */
    PGresult *r = db_exec(c.tx,
                          "SELECT id, primary_member_id, category, status::text FROM "
                          "member.members WHERE club_id = core.current_club() AND created_at = "
                          "now() ORDER BY created_at, id",
                          0, NULL, e);
    if (!r) goto fail;
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *d = json_pack("{s:s, s:s?, s:s, s:s, s:b}", "member_id", PQgetvalue(r, i, 0),
                              "primary_member_id",
                              PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1), "category",
                              PQgetvalue(r, i, 2), "status", PQgetvalue(r, i, 3), "imported", 1);
        if (member_emit(&c, "member.created", d, e) != 0) {
            PQclear(r);
            goto fail;
        }
    }
    PQclear(r);
    if (member_commit(&c, e) != 0) goto fail;
    *out = json_pack("{s:b, s:I, s:b, s:I, s:o}", "dry_run", 0, "rows", (json_int_t)st.n, "valid",
                     1, "imported", (json_int_t)n, "errors", st.errors);
    json_decref(st.rows);
    return 0;
fail:
    member_rollback(&c);
fail_free:
    json_decref(st.rows);
    json_decref(st.errors);
    return -1;
}

/* ---- export ---- */

/* Entirely a decimal number: [+-]digits[.digits][(e|E)[+-]digits], or [+-].digits... */
static int csv_is_number(const char *p) {
    if (*p == '+' || *p == '-') p++;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits++;
    if (!digits) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

/* A character a spreadsheet may take as the start of a formula (OWASP CSV injection): = + - @,
 * and their full-width forms U+FF1D U+FF0B U+FF0D U+FF20 (EF BC 9D, 8B, 8D, A0 in UTF-8). */
static int csv_trigger(const char *p) {
    if (*p == '=' || *p == '+' || *p == '-' || *p == '@') return 1;
    const unsigned char *u = (const unsigned char *)p;
    return u[0] == 0xEF && u[1] == 0xBC &&
           (u[2] == 0x9D || u[2] == 0x8B || u[2] == 0x8D || u[2] == 0xA0);
}

int member_csv_formula_risky(const char *v) {
    if (!v || !*v) return 0;
    /* a leading tab, CR or LF is itself on the OWASP list; spaces are skipped (some
     * spreadsheets trim them before looking for a formula) */
    if (*v == '\t' || *v == '\r' || *v == '\n') return 1;
    const char *p = v;
    while (*p == ' ')
        p++;
    if (!csv_trigger(p)) return 0;
    /* exempt: a cell that is entirely a number ("-12", "+3.5") or an E.164 phone number */
    return !(p == v && (csv_is_number(v) || jsonx_is_e164(v)));
}

static void csv_field(char **buf, size_t *len, size_t *cap, const char *v, int last) {
    size_t n = v ? strlen(v) : 0;
    if (*len + 2 * n + 8 > *cap) {
        size_t nc = (*cap + 2 * n + 8) * 2;
        char *nb = realloc(*buf, nc);
        if (!nb) return;
        *buf = nb, *cap = nc;
    }
    char *o = *buf + *len;
    /* spreadsheet formula injection (docs/security.md D1): quoted with a leading apostrophe */
    int risky = member_csv_formula_risky(v);
    int quote = risky || (v && strpbrk(v, ",\"\r\n") != NULL);
    if (quote) *o++ = '"';
    if (risky) *o++ = '\'';
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"') *o++ = '"';
        *o++ = v[i];
    }
    if (quote) *o++ = '"';
    *o++ = last ? '\n' : ',';
    *len = (size_t)(o - *buf);
}

int member_csv_export(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    static const char *const head[] = {"id",
                                       "member_number",
                                       "category",
                                       "status",
                                       "joined_on",
                                       "expires_on",
                                       "first_name",
                                       "last_name",
                                       "preferred_name",
                                       "email",
                                       "phone",
                                       "date_of_birth",
                                       "language",
                                       "primary_member_id",
                                       "directory_opt_in",
                                       "city",
                                       "country",
                                       NULL};
    mctx_t c;
    if (member_begin(call, in, &c, e) != 0) return -1;
    PGresult *r = members_query(c.tx, in, 200000, e);
    if (!r) {
        member_rollback(&c);
        return -1;
    }
    size_t cap = 4096 + (size_t)PQntuples(r) * 256, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        PQclear(r);
        member_rollback(&c);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    for (int h = 0; head[h]; h++)
        csv_field(&buf, &len, &cap, head[h], head[h + 1] == NULL);
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *d = db_json(r, i, 0, e);
        if (!d) continue;
        json_t *p = json_object_get(d, "profile");
        json_t *home = json_object_get(json_object_get(d, "addresses"), "home");
        const char *v[17];
        v[0] = json_string_value(json_object_get(d, "id"));
        v[1] = json_string_value(json_object_get(d, "member_number"));
        v[2] = json_string_value(json_object_get(d, "category"));
        v[3] = json_string_value(json_object_get(d, "status"));
        v[4] = json_string_value(json_object_get(d, "joined_on"));
        v[5] = json_string_value(json_object_get(d, "expires_on"));
        v[6] = json_string_value(json_object_get(p, "first_name"));
        v[7] = json_string_value(json_object_get(p, "last_name"));
        v[8] = json_string_value(json_object_get(p, "preferred_name"));
        v[9] = json_string_value(json_object_get(p, "email"));
        v[10] = json_string_value(json_object_get(p, "phone"));
        v[11] = json_string_value(json_object_get(p, "date_of_birth"));
        v[12] = json_string_value(json_object_get(p, "language"));
        v[13] = json_string_value(json_object_get(d, "primary_member_id"));
        v[14] = json_is_true(json_object_get(d, "directory_opt_in")) ? "true" : "false";
        v[15] = json_string_value(json_object_get(home, "city"));
        v[16] = json_string_value(json_object_get(home, "country"));
        for (int k = 0; k < 17; k++)
            csv_field(&buf, &len, &cap, v[k], k == 16);
        json_decref(d);
    }
    PQclear(r);
    buf[len] = 0;
    if (member_commit(&c, e) != 0) {
        free(buf);
        return -1;
    }
    *out = svc_raw_output("text/csv; charset=utf-8", "members.csv", buf);
    free(buf);
    return *out ? 0 : err_set(e, 500, "internal", "", "could not build the export");
}
