/* visits_flow: see visits_flow.h. */
#include "services/reciprocal/visits_flow.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "services/reciprocal/charges.h"
#include "services/reciprocal/loi.h"
#include "services/reciprocal/reciprocal.h"
#include "services/reciprocal/restrictions.h"
#include "services/reciprocal/visit_lifecycle.h"
#include "services/reciprocal/visits.h"

int visit_validate_transition(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", "reason", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    const char *s;
    if (jsonx_string(in, "reason", 0, 1, 500, &s, e) != 0) return -1;
    return jsonx_ref(in, "id", 1, "no such visit", e);
}

int visit_validate_keys(json_t *in, err_t *e) {
    static const char *const keys[] = {"id", NULL};
    if (jsonx_only_keys(in, keys, "", e) != 0) return -1;
    return jsonx_ref(in, "id", 1, "no club with this id", e);
}

/* ---- the LOI key ---- */

/* A new key pair for club, stored (public part) and sealed (private part). */
static int new_loi_key(db_tx_t *tx, const char *club, const unsigned char kek[32], signkey_t *k,
                       err_t *e) {
    signkey_sealed_t sealed;
    if (signkey_generate(k) != 0 || signkey_seal(k->sk, kek, club, &sealed) != 0)
        return err_set(e, 500, "internal", "", "libsodium failed to make a key");
    char pk_hex[2 * SIGNKEY_PK_BYTES + 3], enc_hex[2 * sizeof sealed.enc + 3],
        nonce_hex[2 * sizeof sealed.nonce + 3];
    signkey_hex(k->pk, sizeof k->pk, pk_hex);
    signkey_hex(sealed.enc, sizeof sealed.enc, enc_hex);
    signkey_hex(sealed.nonce, sizeof sealed.nonce, nonce_hex);
    const char *p1[] = {k->kid, club, pk_hex};
    const char *p2[] = {k->kid, club, enc_hex, nonce_hex};
    if (db_exec_cmd(tx,
                    "INSERT INTO reciprocal.loi_keys (kid, club_id, public_key) VALUES ($1, $2, "
                    "$3::bytea)",
                    3, p1, e) < 0 ||
        db_exec_cmd(tx,
                    "INSERT INTO reciprocal.loi_key_secrets (kid, club_id, sealed_key, "
                    "seal_nonce) VALUES ($1, $2, $3::bytea, $4::bytea)",
                    4, p2, e) < 0)
        return -1;
    return 0;
}

/* The home club's current LOI key, created on first use (one creation at a time per club).
 * The transaction is in club's scope. k is wiped by the caller (signkey_wipe). */
static int loi_key(const svc_call_t *call, db_tx_t *tx, const char *club, signkey_t *k, err_t *e) {
    const cfg_key_t *kk = &reciprocal_settings(call->env)->loi_kek;
    if (cfg_key_require(kk, "RECIPROCAL_LOI_KEK", 503, "loi_signing_unconfigured", e) != 0)
        return -1;
    const char *p[] = {club};
    if (db_exec_cmd(tx, "SELECT pg_advisory_xact_lock(hashtext('reciprocal.loi_key:' || $1))", 1, p,
                    e) < 0)
        return -1;
    PGresult *r = db_exec(tx,
                          "SELECT k.kid, encode(k.public_key, 'hex'), encode(s.sealed_key, "
                          "'hex'), encode(s.seal_nonce, 'hex') FROM reciprocal.loi_keys k JOIN "
                          "reciprocal.loi_key_secrets s ON s.kid = k.kid WHERE k.club_id = $1 "
                          "AND k.retired_at IS NULL",
                          1, p, e);
    if (!r) return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return new_loi_key(tx, club, kk->key, k, e);
    }
    size_t pl = 0;
    snprintf(k->kid, sizeof k->kid, "%s", PQgetvalue(r, 0, 0));
    int ok =
        signkey_unhex(PQgetvalue(r, 0, 1), k->pk, sizeof k->pk, &pl) == 0 &&
        pl == SIGNKEY_PK_BYTES &&
        signkey_unseal_hex(PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3), kk->key, club, k->sk) == 0;
    PQclear(r);
    if (!ok)
        return err_set(e, 500, "loi_key_unreadable", "",
                       "the club's LOI key cannot be decrypted with RECIPROCAL_LOI_KEK");
    return 0;
}

/* ---- the visit row ---- */

typedef struct vrow {
    char id[40], status[16], home[40], host[40], member[40], tz[72], arrive[16], depart[16];
    char agreement[40];
    json_t *facilities;
    int guests;
    /* start of the arrival day; the letter's end: the end of the departure day, or sooner the
     * end of the loi_validity_days-th day counted from the later of the issue day and the
     * arrival day (host time); now */
    long long nbf, end, now;
} vrow_t;

static int lock_visit(db_tx_t *tx, const char *id, vrow_t *v, err_t *e) {
    const char *p[] = {id};
    PGresult *r = db_row(
        db_exec(
            tx,
            "SELECT v.status, v.home_club_id, v.host_club_id, v.member_id, v.host_timezone, "
            "v.arrive_on::text, v.depart_on::text, to_jsonb(v.facilities)::text, v.guests, "
            "extract(epoch FROM (v.arrive_on::timestamp AT TIME ZONE v.host_timezone))::bigint, "
            "extract(epoch FROM (least(v.depart_on + 1, greatest((now() AT TIME ZONE "
            "v.host_timezone)::date, v.arrive_on) + coalesce((SELECT (a.terms -> "
            "v.host_club_id::text ->> 'loi_validity_days')::int FROM reciprocal.agreements a WHERE "
            "a.id = v.agreement_id), 30))::timestamp AT TIME ZONE v.host_timezone))::bigint, "
            "extract(epoch FROM now())::bigint, v.agreement_id FROM reciprocal.visits v WHERE v.id "
            "= "
            "$1 FOR UPDATE",
            1, p, e),
        e, "id", "no such visit");
    if (!r) return -1;
    snprintf(v->id, sizeof v->id, "%s", id);
    DB_TEXTS(r, 0, 0, DB_TEXT(v->status), DB_TEXT(v->home), DB_TEXT(v->host), DB_TEXT(v->member),
             DB_TEXT(v->tz), DB_TEXT(v->arrive), DB_TEXT(v->depart));
    v->facilities = db_json(r, 0, 7, e);
    v->guests = atoi(PQgetvalue(r, 0, 8));
    v->nbf = atoll(PQgetvalue(r, 0, 9));
    v->end = atoll(PQgetvalue(r, 0, 10));
    v->now = atoll(PQgetvalue(r, 0, 11));
    snprintf(v->agreement, sizeof v->agreement, "%s", PQgetvalue(r, 0, 12));
    PQclear(r);
    return v->facilities ? 0 : -1;
}

/* ---- approve: the letter ---- */

static void copy_str(char *dst, size_t cap, const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    snprintf(dst, cap, "%s", s ? s : "");
}

/* Signs and stores the letter of v (the member snapshot from the home club's standing). */
static int issue_loi(const svc_call_t *call, db_tx_t *tx, const vrow_t *v, err_t *e) {
    /* at most one live letter per member per host for overlapping dates */
    const char *pc[] = {v->member, v->host, v->arrive, v->depart, v->id};
    PGresult *r = db_exec(tx,
                          "SELECT count(*) FROM reciprocal.visits o JOIN reciprocal.lois l ON "
                          "l.visit_id = o.id WHERE o.member_id = $1 AND o.host_club_id = $2 AND "
                          "o.id <> $5 AND l.revoked_at IS NULL AND o.status IN ('approved', "
                          "'confirmed', 'checked_in') AND o.arrive_on <= $4::date AND "
                          "o.depart_on >= $3::date",
                          5, pc, e);
    if (!r) return -1;
    int clash = atoi(PQgetvalue(r, 0, 0)) > 0;
    PQclear(r);
    if (clash)
        return err_set(e, 409, "loi_conflict", "id",
                       "the member already holds a live letter for this club on these dates");
    json_t *st = visit_standing(call, v->home, v->member, e);
    if (!st) return -1;
    if (!json_is_true(json_object_get(st, "active"))) {
        json_decref(st);
        return err_set(e, 422, "member_not_active", "member_id",
                       "the member is not active at the home club");
    }
    loi_t l = {0};
    copy_str(l.name, sizeof l.name, st, "name");
    if (!l.name[0]) snprintf(l.name, sizeof l.name, "-");
    copy_str(l.num, sizeof l.num, st, "member_number");
    copy_str(l.cat, sizeof l.cat, st, "category");
    copy_str(l.valid_to, sizeof l.valid_to, st, "valid_to");
    json_decref(st);
    snprintf(l.visit, sizeof l.visit, "%.36s", v->id);
    snprintf(l.home, sizeof l.home, "%.36s", v->home);
    snprintf(l.host, sizeof l.host, "%.36s", v->host);
    l.nbf = v->nbf;
    l.exp = v->end;
    l.iat = v->now;
    l.guests = v->guests;
    for (size_t i = 0; i < json_array_size(v->facilities) && i < LOI_FAC_MAX; i++, l.n_fac++)
        snprintf(l.fac[i], LOI_FAC_LEN, "%s", json_string_value(json_array_get(v->facilities, i)));
    if (loi_new_code(l.code) != 0) return err_set(e, 500, "internal", "", "no randomness");
    signkey_t k = {0};
    char *token = NULL;
    const char *field = NULL;
    int rc = loi_key(call, tx, v->home, &k, e);
    if (rc == 0 && loi_encode(&l, &k, &token, &field) != 0)
        rc = err_set(e, 422, "loi_unencodable", "id", "the letter cannot be encoded (%s)",
                     field ? field : "too long");
    signkey_wipe(&k);
    if (rc != 0) return -1;
    char nbf[24], exp[24];
    snprintf(nbf, sizeof nbf, "%lld", l.nbf);
    snprintf(exp, sizeof exp, "%lld", l.exp);
    const char *pi[] = {v->id, l.kid, l.code, nbf, exp, token};
    rc = db_exec_cmd(tx,
                     "INSERT INTO reciprocal.lois (visit_id, kid, code, valid_from, valid_to, "
                     "token) VALUES ($1, $2, $3, to_timestamp($4::bigint), "
                     "to_timestamp($5::bigint), $6)",
                     6, pi, e) < 0
             ? -1
             : 0;
    free(token);
    return rc;
}

/* ---- confirm: the rules again ---- */

/* Every rule of the request again (visit_rules_check, the same function), under the same
 * (member, host) lock, the limits counting the confirmed, checked-in, completed and no-show
 * visits. */
static int recheck(const svc_call_t *call, db_tx_t *tx, const vrow_t *v, err_t *e) {
    if (visit_lock_member_host(tx, v->member, v->host, e) != 0) return -1;
    json_t *doc = visit_load_doc(tx, v->id, e);
    if (!doc) return -1;
    vreq_t r = {0};
    int rc = visit_rules_from_doc(doc, &r, e) == 0
                 ? visit_rules_check(call, tx, &r, VISIT_AT_CONFIRM, e)
                 : -1;
    visit_rules_free(&r);
    json_decref(doc);
    return rc;
}

/* ---- one transition ---- */

/* The caller's sides for v (VLC_* bits); a network administrator acts for every side. */
static int caller_sides(const svc_call_t *call, const vrow_t *v, const char *self) {
    const svc_caller_t *c = call->caller;
    if (c->network_admin) return VLC_HOME | VLC_HOST | VLC_MEMBER;
    if (self[0]) return strcmp(self, v->member) == 0 ? VLC_MEMBER : 0;
    int s = 0;
    if (strcasecmp(c->club_id, v->home) == 0) s |= VLC_HOME;
    if (strcasecmp(c->club_id, v->host) == 0) s |= VLC_HOST;
    return s;
}

static const struct {
    const char *action, *event;
} k_events[] = {{"approve", "loi.issued"},   {"confirm", "visit.confirmed"},
                {"decline", "loi.declined"}, {"cancel", "visit.cancelled"},
                {"revoke", "loi.revoked"},   {"check_out", "visit.checked_out"}};

void visit_add_qr(json_t *doc) {
    json_t *loi = json_object_get(doc, "loi");
    const char *token = json_string_value(json_object_get(loi, "token"));
    char *svg = token ? loi_qr_svg(token) : NULL;
    if (svg) json_object_set_new(loi, "qr_svg", json_string(svg));
    free(svg);
}

/* Moves v to `to` by `action` as club: the status (and check-out's staff and time), the letter
 * revoked on the exits, the transition row and the event. */
static int apply(const svc_call_t *call, db_tx_t *tx, const vrow_t *v, const char *action,
                 const char *to, const char *club, const char *reason, err_t *e) {
    const char *p[] = {v->id, to};
    const char *user = call->caller->user_id[0] ? call->caller->user_id : NULL;
    const char *pu[] = {v->id, to, user};
    int out_ = strcmp(action, "check_out") == 0;
    if (db_exec_cmd(tx,
                    out_ ? "UPDATE reciprocal.visits SET status = $2, checked_out_at = now(), "
                           "checked_out_by = $3, updated_at = now() WHERE id = $1"
                         : "UPDATE reciprocal.visits SET status = $2, updated_at = now() WHERE id "
                           "= $1",
                    out_ ? 3 : 2, pu, e) < 0)
        return -1;
    if (strcmp(to, "revoked") == 0 || strcmp(to, "cancelled") == 0 || strcmp(to, "declined") == 0) {
        if (db_exec_cmd(tx,
                        "UPDATE reciprocal.lois SET revoked_at = now() WHERE visit_id = $1 AND "
                        "revoked_at IS NULL",
                        1, p, e) < 0)
            return -1;
    }
    if (visit_transition_add(tx, v->id, club, user, action, v->status, to, reason, e) != 0)
        return -1;
    const char *event = NULL;
    for (size_t i = 0; i < sizeof k_events / sizeof k_events[0]; i++)
        if (strcmp(k_events[i].action, action) == 0) event = k_events[i].event;
    /* the dates and the host's zone: the notification service's reminder and calendar entry */
    return svc_emit(call, tx, event, club,
                    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "visit_id", v->id,
                              "member_id", v->member, "home_club_id", v->home, "host_club_id",
                              v->host, "status", to, "from_status", v->status, "arrive_on",
                              v->arrive, "depart_on", v->depart, "host_timezone", v->tz),
                    e);
}

int visit_auto_approve(const svc_call_t *call, db_tx_t *tx, const char *id, err_t *e) {
    vrow_t v = {0};
    int rc = -1;
    if (lock_visit(tx, id, &v, e) == 0 && issue_loi(call, tx, &v, e) == 0)
        rc = apply(call, tx, &v, "approve", vlc_next("approve", v.status), v.home, "auto_approve",
                   e);
    json_decref(v.facilities);
    return rc;
}

static int transition(const svc_call_t *call, json_t *in, const char *action, json_t **out,
                      err_t *e) {
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *reason = json_string_value(json_object_get(in, "reason"));
    char self[40] = "", allowed[128], club[40] = "";
    if (!svc_authorized(call->caller, "member:write") && visit_self_member(call, self, e) != 0)
        return -1;
    if (!reason && strcmp(action, "decline") == 0)
        return err_set(e, 400, "missing_field", "reason", "reason is required to decline");
    db_tx_t *tx = NULL;
    vrow_t v = {0};
    int rc = -1;
    if (svc_begin(call, &tx, e) != 0) goto done;
    if (lock_visit(tx, id, &v, e) != 0) goto done;
    int mine = caller_sides(call, &v, self);
    if (!mine) {
        err_set(e, 404, "not_found", "id", "no such visit");
        goto done;
    }
    const char *to = vlc_next(action, v.status);
    if (!to) {
        err_set(e, 409, "invalid_transition", "status", "cannot %s a visit that is %s; allowed: %s",
                action, v.status, vlc_allowed(v.status, allowed, sizeof allowed));
        goto done;
    }
    if (!(vlc_sides(action, v.status) & mine)) {
        err_set(e, 403, "forbidden", "id", "your side of the visit may not %s it", action);
        goto done;
    }
    if ((strcmp(action, "approve") == 0 || strcmp(action, "confirm") == 0) &&
        restrictions_check(tx, v.member, v.home, v.host, v.arrive, 0, "id", e) != 0)
        goto done;
    if (strcmp(action, "approve") == 0 && issue_loi(call, tx, &v, e) != 0) goto done;
    if (strcmp(action, "confirm") == 0 && recheck(call, tx, &v, e) != 0) goto done;
    snprintf(club, sizeof club, "%s", (mine & VLC_HOST) && !(mine & VLC_HOME) ? v.host : v.home);
    if (apply(call, tx, &v, action, to, club, reason, e) != 0) goto done;
    if (strcmp(to, "cancelled") == 0 && charge_on_cancel(call, tx, v.id, v.status, e) != 0)
        goto done;
    *out = visit_load_doc(tx, v.id, e);
    rc = *out ? 0 : -1;
    if (rc == 0) visit_add_qr(*out);
done:
    json_decref(v.facilities);
    return db_tx_finish(&tx, rc, out, e);
}

int visit_approve(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return transition(call, in, "approve", out, e);
}
int visit_confirm(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return transition(call, in, "confirm", out, e);
}
int visit_decline(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return transition(call, in, "decline", out, e);
}
int visit_cancel(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return transition(call, in, "cancel", out, e);
}
int visit_revoke(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return transition(call, in, "revoke", out, e);
}
int visit_check_out(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    return transition(call, in, "check_out", out, e);
}

/* ---- public keys ---- */

int visit_loi_keys(const svc_call_t *call, json_t *in, json_t **out, err_t *e) {
    const char *club = json_string_value(json_object_get(in, "id"));
    const char *p[] = {club};
    db_scope_t scope = svc_scope(call, NULL);
    PGresult *r = db_read(call->env->db, &scope,
                          "SELECT kid, encode(public_key, 'hex'), reciprocal.ts(created_at), "
                          "reciprocal.ts(retired_at) FROM reciprocal.loi_keys WHERE club_id = "
                          "$1::uuid ORDER BY created_at, kid",
                          1, p, e);
    if (!r) return -1;
    json_t *keys = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *k =
            signkey_published_json(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                                   PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3));
        if (k) json_array_append_new(keys, k);
    }
    PQclear(r);
    *out = json_pack("{s:s, s:o}", "club_id", club, "keys", keys);
    return 0;
}
