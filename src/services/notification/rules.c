/* rules: see rules.h. The rule table and the network default templates are data in this file;
 * docs/notification.md lists them. */
#include "services/notification/rules.h"

#include <cmark.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "lib/mustache/mustache.h"
#include "services/notification/icu_fmt.h"
#include "services/notification/notification.h"
#include "services/notification/prefs.h"
#include "services/notification/provider.h"

/* clang-format off */
const notify_rule_t notify_rules[] = {
    /* auth: one-time tokens fetched through auth.delivery_token (never from the event) */
    {"auth.invite_created",               "token_user",   "invite",             NOTIFY_EMAIL, 1, "security", 0},
    {"auth.password_reset_requested",     "token_user",   "password_reset",     NOTIFY_EMAIL, 1, "security", 0},
    {"auth.email_verification_requested", "token_user",   "verify_email",       NOTIFY_EMAIL, 1, "security", 0},
    /* visits and letters of introduction: the visiting member */
    {"loi.issued",        "visit_member", "visit_approved",  NOTIFY_EMAIL | NOTIFY_IN_APP, 0, "visits", 0},
    {"visit.confirmed",   "visit_member", "visit_confirmed", NOTIFY_EMAIL | NOTIFY_IN_APP, 1, "visits",
     NOTIFY_ICS},
    {"visit.confirmed",   "visit_member", "visit_reminder",  NOTIFY_EMAIL, 0, "visits",
     NOTIFY_DAY_BEFORE},
    {"visit.cancelled",   "visit_member", "visit_cancelled", NOTIFY_EMAIL | NOTIFY_IN_APP, 1, "visits",
     NOTIFY_CANCELS},
    {"loi.revoked",       "visit_member", "loi_revoked",     NOTIFY_EMAIL | NOTIFY_IN_APP, 1, "visits",
     NOTIFY_CANCELS},
    /* agreements: the contact address of every party club but the proposer */
    {"reciprocal.agreement_created", "party_clubs", "agreement_proposed", NOTIFY_EMAIL, 0,
     "agreements", 0},
    /* settlement statements: the treasurers of the club that must act (else its contact
     * address) */
    {"statement.issued",   "statement_home", "statement_issued",   NOTIFY_EMAIL, 0, "agreements", 0},
    {"statement.disputed", "statement_host", "statement_disputed", NOTIFY_EMAIL, 0, "agreements", 0},
    {"statement.accepted", "statement_host", "statement_accepted", NOTIFY_EMAIL, 0, "agreements", 0},
    {"statement.paid",     "statement_home", "statement_paid",     NOTIFY_EMAIL, 0, "agreements", 0},
    /* governance (issue 15): network proposals, at the contact address of each club the event
     * lists in "clubs" (opened and the result: every eligible club; the reminder 24 h before the
     * close: the clubs that have not voted), the proposing club excepted; preference category
     * "agreements" (the network's business between clubs) */
    {"governance.proposal_opened",    "party_clubs", "governance_opened",   NOTIFY_EMAIL, 0,
     "agreements", 0},
    {"governance.proposal_closing",   "party_clubs", "governance_reminder", NOTIFY_EMAIL, 0,
     "agreements", 0},
    {"governance.proposal_succeeded", "party_clubs", "governance_result",   NOTIFY_EMAIL, 0,
     "agreements", 0},
    {"governance.proposal_defeated",  "party_clubs", "governance_result",   NOTIFY_EMAIL, 0,
     "agreements", 0},
    /* SMS and push (issue 13, provider.c): the visiting member's phone and devices; critical
     * ones (confirmation, cancellation, revocation) ignore opt-outs and quiet hours, the approval
     * is push only and follows them. The rows above already cancelled what a cancellation
     * cancels (no NOTIFY_CANCELS here: it would cancel these rows' own messages). */
    {"visit.confirmed", "visit_member", "visit_confirmed", NOTIFY_SMS | NOTIFY_PUSH, 1, "visits", 0},
    {"visit.cancelled", "visit_member", "visit_cancelled", NOTIFY_SMS | NOTIFY_PUSH, 1, "visits", 0},
    {"loi.revoked",     "visit_member", "loi_revoked",     NOTIFY_SMS | NOTIFY_PUSH, 1, "visits", 0},
    {"loi.issued",      "visit_member", "visit_approved",  NOTIFY_PUSH,              0, "visits", 0},
};
const size_t notify_n_rules = sizeof notify_rules / sizeof notify_rules[0];

/* Network default templates: key, locale, subject, Markdown body. */
static const struct {
    const char *key, *locale, *subject, *body;
} k_defaults[] = {
    {"invite", "en", "You are invited to {{club.name}}",
     "Hello,\n\n{{club.name}} invites you to join the Reciprocal Clubs network.\n\n"
     "[Accept the invitation]({{link}})\n\nThe link works once and expires on {{expires_at_local}}.\n"},
    {"password_reset", "en", "Reset your password at {{club.name}}",
     "Hello,\n\nSomeone (we hope you) asked to reset your password at {{club.name}}.\n\n"
     "[Choose a new password]({{link}})\n\nThe link works once and expires on "
     "{{expires_at_local}}. "
     "If you did not ask, ignore this message: your password is unchanged.\n"},
    {"verify_email", "en", "Confirm your email address",
     "Hello,\n\nPlease confirm that {{email}} is your address at {{club.name}}.\n\n"
     "[Confirm my address]({{link}})\n\nThe link expires on {{expires_at_local}}.\n"},
    {"visit_approved", "en", "Your visit to {{host_club.name}} is approved",
     "Hello {{member.first_name}},\n\n{{home_club.name}} approved your visit to "
     "**{{host_club.name}}** and issued your letter of introduction. {{host_club.name}} will "
     "confirm it.\n"},
    {"visit_confirmed", "en", "Your visit to {{host_club.name}} is confirmed",
     "Hello {{member.first_name}},\n\n**{{host_club.name}}** confirmed your visit. Show your "
     "letter of introduction at the door.\n"},
    {"visit_confirmed", "fr", "Votre visite au {{host_club.name}} est confirmée",
     "Bonjour {{member.first_name}},\n\nLe **{{host_club.name}}** a confirmé votre visite. "
     "Présentez votre lettre d'introduction à l'accueil.\n"},
    {"visit_reminder", "en", "Tomorrow: your visit to {{host_club.name}}",
     "Hello {{member.first_name}},\n\nA reminder: you are expected at **{{host_club.name}}** "
     "from {{arrive_on_local}} to {{depart_on_local}}. Show your letter of introduction at the door.\n"},
    {"visit_cancelled", "en", "Your visit to {{host_club.name}} is cancelled",
     "Hello {{member.first_name}},\n\nYour visit to **{{host_club.name}}** was cancelled.\n"},
    {"loi_revoked", "en", "Your letter of introduction to {{host_club.name}} was revoked",
     "Hello {{member.first_name}},\n\n{{home_club.name}} revoked your letter of introduction to "
     "**{{host_club.name}}**: it is no longer valid at the door.\n"},
    {"agreement_proposed", "en", "{{proposer.name}} proposes a reciprocal agreement",
     "Hello {{club.name}},\n\n**{{proposer.name}}** proposes a reciprocal agreement with your "
     "club. Review it in the administration (agreement {{agreement_id}}).\n"},
    {"statement_issued", "en", "{{host_club.name}} issued a reciprocal statement",
     "Hello {{club.name}},\n\n**{{host_club.name}}** issued a statement of your members' visits "
     "(statement {{statement_id}}). Review it and accept or dispute it in the administration.\n"},
    {"statement_disputed", "en", "{{home_club.name}} disputed your statement",
     "Hello {{club.name}},\n\n**{{home_club.name}}** disputed your statement {{statement_id}}. "
     "Review the disputed lines in the administration.\n"},
    {"statement_accepted", "en", "{{home_club.name}} accepted your statement",
     "Hello {{club.name}},\n\n**{{home_club.name}}** accepted your statement {{statement_id}}; "
     "it is due for payment.\n"},
    {"statement_paid", "en", "{{host_club.name}} recorded the payment of a statement",
     "Hello {{club.name}},\n\n**{{host_club.name}}** recorded your payment of statement "
     "{{statement_id}}: it is settled.\n"},
    {"statement_issued", "fr", "{{host_club.name}} a émis un relevé de réciprocité",
     "Bonjour {{club.name}},\n\nLe **{{host_club.name}}** a émis un relevé des visites de vos "
     "membres (relevé {{statement_id}}). Vérifiez-le puis acceptez-le ou contestez-le dans "
     "l'administration.\n"},
    {"statement_disputed", "fr", "{{home_club.name}} conteste votre relevé",
     "Bonjour {{club.name}},\n\nLe **{{home_club.name}}** conteste votre relevé "
     "{{statement_id}}. Consultez les lignes contestées dans l'administration.\n"},
    {"statement_accepted", "fr", "{{home_club.name}} a accepté votre relevé",
     "Bonjour {{club.name}},\n\nLe **{{home_club.name}}** a accepté votre relevé "
     "{{statement_id}} ; il est dû.\n"},
    {"statement_paid", "fr", "{{host_club.name}} a enregistré le paiement d'un relevé",
     "Bonjour {{club.name}},\n\nLe **{{host_club.name}}** a enregistré votre paiement du relevé "
     "{{statement_id}} : il est réglé.\n"},
    /* governance (issue 15) */
    {"governance_opened", "en", "Voting is open on a proposal by {{proposer.name}}",
     "Hello {{club.name}},\n\nVoting is open on a network proposal by **{{proposer.name}}**. "
     "Cast your club's vote in the governance area before the deadline.\n"},
    {"governance_reminder", "en", "Voting closes in 24 hours: a proposal by {{proposer.name}}",
     "Hello {{club.name}},\n\nYour club has not voted on the network proposal by "
     "**{{proposer.name}}**. Voting closes in 24 hours.\n"},
    {"governance_result", "en", "The proposal by {{proposer.name}} is decided",
     "Hello {{club.name}},\n\nVoting on the network proposal by **{{proposer.name}}** has "
     "closed. The result is in the governance area.\n"},
};
/* clang-format on */

/* ---- templates ------------------------------------------------------------------------------ */

static int network_default(const char *key, const char *locale, char **subject, char **body) {
    for (size_t i = 0; i < sizeof k_defaults / sizeof k_defaults[0]; i++)
        if (strcmp(k_defaults[i].key, key) == 0 && strcmp(k_defaults[i].locale, locale) == 0) {
            *subject = strdup(k_defaults[i].subject);
            *body = strdup(k_defaults[i].body);
            return 1;
        }
    return 0;
}

/* A club override (key, locale) into *subject, *body: 1 found, 0 none, -1 error. */
static int club_override(db_tx_t *tx, const char *club_id, const char *key, const char *locale,
                         char **subject, char **body, err_t *e) {
    const char *p[] = {club_id, key, locale};
    PGresult *r = db_exec(tx,
                          "SELECT subject, body FROM notification.templates WHERE club_id = "
                          "$1::uuid AND key = $2 AND locale = $3",
                          3, p, e);
    if (!r) return -1;
    int found = PQntuples(r) == 1;
    if (found) {
        *subject = strdup(PQgetvalue(r, 0, 0));
        *body = strdup(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return found;
}

int notify_template(db_tx_t *tx, const char *club_id, const char *key, const char *locale,
                    char **subject, char **body, err_t *e) {
    *subject = *body = NULL;
    const char *loc = locale && *locale ? locale : "en";
    int found = 0;
    if (club_id && *club_id) {
        found = club_override(tx, club_id, key, loc, subject, body, e);
        if (found == 0 && strcmp(loc, "en") != 0)
            found = club_override(tx, club_id, key, "en", subject, body, e);
        if (found < 0) return -1;
    }
    if (!found) found = network_default(key, loc, subject, body);
    if (!found) found = network_default(key, "en", subject, body);
    if (!found) return err_set(e, 404, "not_found", "template", "no template \"%s\"", key);
    if (!*subject || !*body) {
        free(*subject);
        free(*body);
        *subject = *body = NULL;
        return err_set(e, 500, "internal", "", "out of memory");
    }
    return 0;
}

json_t *notify_sample_vars(const char *key) {
    const char *audience = NULL;
    for (size_t k = 0; k < notify_n_rules && !audience; k++)
        if (strcmp(notify_rules[k].template, key) == 0) audience = notify_rules[k].audience;
    if (!audience) return NULL;
    if (strcmp(audience, "token_user") == 0)
        return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:s}", "token_id",
                         "00000000-0000-4000-8000-000000000000", "purpose", "invite", "email",
                         "ada@example.org", "expires_at", "2030-03-01T12:00:00Z", "club", "id",
                         "00000000-0000-4000-8000-000000000001", "name", "Sample Club", "link",
                         "https://example.org/register?token=SAMPLE");
    if (strcmp(audience, "visit_member") == 0)
        return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s}, s:{s:s, s:s}, s:s, s:s}", "visit_id",
                         "00000000-0000-4000-8000-000000000002", "status", "confirmed", "member",
                         "first_name", "Ada", "home_club", "id",
                         "00000000-0000-4000-8000-000000000001", "name", "Sample Home Club",
                         "host_club", "id", "00000000-0000-4000-8000-000000000003", "name",
                         "Sample Host Club", "arrive_on", "2030-03-04", "depart_on", "2030-03-06");
    if (strncmp(audience, "statement_", 10) == 0)
        return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}}", "statement_id",
                         "00000000-0000-4000-8000-000000000005", "status", "issued", "club", "id",
                         "00000000-0000-4000-8000-000000000001", "name", "Sample Club", "home_club",
                         "id", "00000000-0000-4000-8000-000000000001", "name", "Sample Club",
                         "host_club", "id", "00000000-0000-4000-8000-000000000003", "name",
                         "Sample Host Club");
    return json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:s}}", "agreement_id",
                     "00000000-0000-4000-8000-000000000004", "club", "id",
                     "00000000-0000-4000-8000-000000000001", "name", "Sample Club", "proposer",
                     "id", "00000000-0000-4000-8000-000000000003", "name", "Sample Partner Club");
}

/* ---- rendering ------------------------------------------------------------------------------ */

static int render_one(const char *tmpl, json_t *vars, int flags, char **out, const char *what,
                      err_t *e) {
    char why[256];
    if (mustache_render(tmpl, vars, NULL, MUSTACHE_STRICT | flags, out, why, sizeof why) != 0)
        return err_set(e, 422, "template_error", what, "%s: %s", what, why);
    return 0;
}

int notify_render(const char *subject_t, const char *body_t, json_t *vars, char **subject,
                  char **text, char **html, err_t *e) {
    char *md = NULL;
    *subject = *text = NULL;
    if (html) *html = NULL;
    if (render_one(subject_t, vars, MUSTACHE_NO_ESCAPE, subject, "subject", e) != 0) goto fail;
    /* one line: a value with a line break must not split the subject */
    for (char *p = *subject; *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
    if (render_one(body_t, vars, MUSTACHE_NO_ESCAPE, text, "body", e) != 0) goto fail;
    if (html) {
        if (render_one(body_t, vars, MUSTACHE_ESCAPE_MARKDOWN, &md, "body", e) != 0) goto fail;
        /* CMARK_OPT_DEFAULT is safe in cmark 0.30: raw HTML and javascript: links are dropped */
        char *frag = cmark_markdown_to_html(md, strlen(md), CMARK_OPT_DEFAULT);
        size_t n = frag ? strlen(frag) + 160 : 0;
        *html = frag ? malloc(n) : NULL;
        if (*html)
            snprintf(*html, n,
                     "<!doctype html>\n<html><head><meta charset=\"utf-8\"></head><body>\n%s"
                     "</body></html>\n",
                     frag);
        free(frag);
        free(md);
        md = NULL;
        if (!*html) {
            err_set(e, 500, "internal", "", "out of memory");
            goto fail;
        }
    }
    return 0;
fail:
    free(md);
    free(*subject);
    free(*text);
    *subject = *text = NULL;
    return -1;
}

/* ---- audiences ------------------------------------------------------------------------------ */

/* One person or club to reach. */
typedef struct recipient {
    char club_id[40];
    char user_id[40]; /* "" = no account: no in-app */
    char email[320];  /* "" = no email */
    char phone[20];   /* E.164, "" = none (SMS) */
    char locale[8];
    char tz[64];  /* default time zone of quiet hours: the club's */
    json_t *vars; /* owned */
} recipient_t;

/* Calls svc.op as the service itself in club `club` holding `perms`. *out: new reference. */
static int op(const svc_call_t *call, const char *svc, const char *name, const char *club,
              const char *perms, json_t *in, json_t **out, err_t *e) {
    svc_caller_t c = *call->caller;
    c.user_id[0] = '\0';
    snprintf(c.club_id, sizeof c.club_id, "%s", club ? club : "");
    snprintf(c.perms, sizeof c.perms, "%s", perms);
    int status = 0;
    *out = NULL;
    int rc = svc_call(call->env, svc, name, &c, in, &status, out, e);
    json_decref(in);
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* {"name": ...} of a club (member.get_club), or NULL + e. */
static json_t *club_vars(const svc_call_t *call, const char *club_id, json_t **doc, err_t *e) {
    json_t *c = NULL;
    if (doc) *doc = NULL;
    if (op(call, "member", "get_club", club_id, "club:read", json_pack("{s:s}", "id", club_id), &c,
           e) != 0)
        return NULL;
    json_t *v = json_pack("{s:s, s:s}", "id", club_id, "name",
                          json_string_value(json_object_get(c, "name"))
                              ? json_string_value(json_object_get(c, "name"))
                              : "");
    if (doc)
        *doc = c;
    else
        json_decref(c);
    return v;
}

static const char *sget(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int add_recipient(recipient_t **list, size_t *n, recipient_t r) {
    recipient_t *v = realloc(*list, (*n + 1) * sizeof *v);
    if (!v) {
        json_decref(r.vars);
        return -1;
    }
    *list = v;
    v[(*n)++] = r;
    return 0;
}

/* auth's one-time token events: the user behind the token (auth.delivery_token gives the
 * address; the token itself is fetched again at send time and never stored). A token already
 * used, replaced or expired (404) means nothing to send. */
static int aud_token_user(const svc_call_t *call, const svc_event_t *ev, recipient_t **list,
                          size_t *n, err_t *e) {
    const char *club = sget(ev->data, "club_id"), *token_id = sget(ev->data, "token_id");
    json_t *t = NULL;
    if (op(call, "auth", "delivery_token", club, "auth:deliver",
           json_pack("{s:s, s:s}", "club_id", club, "token_id", token_id), &t, e) != 0)
        return e->status == 404 ? 0 : -1;
    recipient_t r = {0};
    snprintf(r.club_id, sizeof r.club_id, "%s", club);
    snprintf(r.user_id, sizeof r.user_id, "%s", sget(t, "user_id"));
    snprintf(r.email, sizeof r.email, "%s", sget(t, "email"));
    snprintf(r.locale, sizeof r.locale, "en");
    json_t *cdoc = NULL, *cv = club_vars(call, club, &cdoc, e);
    if (!cv) {
        json_decref(t);
        return -1;
    }
    snprintf(r.tz, sizeof r.tz, "%s", sget(cdoc, "timezone"));
    json_decref(cdoc);
    r.vars =
        json_pack("{s:s, s:s, s:s, s:s, s:o}", "token_id", token_id, "purpose", sget(t, "purpose"),
                  "email", r.email, "expires_at", sget(t, "expires_at"), "club", cv);
    json_decref(t);
    r.user_id[0] = '\0'; /* token mails are email only */
    return r.vars ? add_recipient(list, n, r) : err_set(e, 500, "internal", "", "out of memory");
}

/* visit and LOI events: the visiting member (member.member_contact in the home club, the
 * service-audience operation: permission member:contact, held by no role). */
static int aud_visit_member(const svc_call_t *call, const svc_event_t *ev, recipient_t **list,
                            size_t *n, err_t *e) {
    const char *home = sget(ev->data, "home_club_id"), *host = sget(ev->data, "host_club_id");
    json_t *m = NULL, *hv = NULL, *ov = NULL;
    if (op(call, "member", "member_contact", home, "member:contact",
           json_pack("{s:s, s:s}", "id", sget(ev->data, "member_id"), "club_id", home), &m, e) != 0)
        return e->status == 404 ? 0 : -1;
    int rc = -1;
    json_t *hdoc = NULL;
    if (!(hv = club_vars(call, home, &hdoc, e)) || !(ov = club_vars(call, host, NULL, e)))
        goto done;
    recipient_t r = {0};
    snprintf(r.club_id, sizeof r.club_id, "%s", home);
    snprintf(r.tz, sizeof r.tz, "%s", sget(hdoc, "timezone"));
    json_decref(hdoc);
    snprintf(r.user_id, sizeof r.user_id, "%s", sget(m, "auth_user_id"));
    snprintf(r.email, sizeof r.email, "%s", sget(m, "email"));
    snprintf(r.phone, sizeof r.phone, "%s", sget(m, "phone"));
    snprintf(r.locale, sizeof r.locale, "%s", *sget(m, "language") ? sget(m, "language") : "en");
    const char *first =
        *sget(m, "preferred_name") ? sget(m, "preferred_name") : sget(m, "first_name");
    r.vars = json_pack("{s:s, s:s, s:{s:s}, s:O, s:O, s:s, s:s}", "visit_id",
                       sget(ev->data, "visit_id"), "status", sget(ev->data, "status"), "member",
                       "first_name", first, "home_club", hv, "host_club", ov, "arrive_on",
                       sget(ev->data, "arrive_on"), "depart_on", sget(ev->data, "depart_on"));
    rc = r.vars ? add_recipient(list, n, r) : err_set(e, 500, "internal", "", "out of memory");
done:
    json_decref(m);
    json_decref(hv);
    json_decref(ov);
    return rc;
}

/* reciprocal.agreement_created: every party club but the proposer, at its contact address. */
static int aud_party_clubs(const svc_call_t *call, const svc_event_t *ev, recipient_t **list,
                           size_t *n, err_t *e) {
    const char *proposer = sget(ev->data, "proposer_club_id");
    json_t *pv = club_vars(call, proposer, NULL, e);
    if (!pv) return -1;
    size_t i;
    json_t *id;
    int rc = 0;
    json_array_foreach(json_object_get(ev->data, "clubs"), i, id) {
        const char *club = json_string_value(id);
        if (!club || strcmp(club, proposer) == 0) continue;
        json_t *doc = NULL, *cv = club_vars(call, club, &doc, e);
        if (!cv) {
            rc = -1;
            break;
        }
        recipient_t r = {0};
        snprintf(r.club_id, sizeof r.club_id, "%s", club);
        snprintf(r.email, sizeof r.email, "%s", sget(doc, "contact_email"));
        snprintf(r.locale, sizeof r.locale, "en");
        json_decref(doc);
        r.vars = json_pack("{s:s, s:o, s:O}", "agreement_id", sget(ev->data, "agreement_id"),
                           "club", cv, "proposer", pv);
        if (!r.vars || add_recipient(list, n, r) != 0) {
            rc = err_set(e, 500, "internal", "", "out of memory");
            break;
        }
    }
    json_decref(pv);
    return rc;
}

/* The recipient of a statement mail at club (doc: its member.get_club document): user_id and
 * email of one of its treasurers, or its contact address when user is NULL. */
static int statement_recipient(const svc_event_t *ev, const char *club, json_t *doc, json_t *user,
                               json_t *cv, json_t *hv, json_t *ov, recipient_t **list, size_t *n,
                               err_t *e) {
    recipient_t r = {0};
    snprintf(r.club_id, sizeof r.club_id, "%s", club);
    snprintf(r.user_id, sizeof r.user_id, "%s", user ? sget(user, "id") : "");
    snprintf(r.email, sizeof r.email, "%s",
             user ? sget(user, "email") : sget(doc, "contact_email"));
    snprintf(r.tz, sizeof r.tz, "%s", sget(doc, "timezone"));
    snprintf(r.locale, sizeof r.locale, "en");
    r.vars =
        json_pack("{s:s, s:s, s:O, s:O, s:O}", "statement_id", sget(ev->data, "statement_id"),
                  "status", sget(ev->data, "status"), "club", cv, "home_club", hv, "host_club", ov);
    return r.vars && add_recipient(list, n, r) == 0
               ? 0
               : err_set(e, 500, "internal", "", "out of memory");
}

/* statement.*: the club that must act, the statement's home club (statement_home: it reviews,
 * accepts, pays) or host club (statement_host: it hears of disputes and acceptance): each of
 * its active treasurers (auth.role_holders, the service-audience operation: permission
 * auth:directory, held by no role), one mail each under that person's preferences; a club
 * without a treasurer at its contact address, and one without either gets nothing. A failed
 * look-up fails the event (retried), never falls back to the contact address. */
static int aud_statement_club(const svc_call_t *call, const svc_event_t *ev, int home_side,
                              recipient_t **list, size_t *n, err_t *e) {
    const char *home = sget(ev->data, "home_club_id"), *host = sget(ev->data, "host_club_id");
    const char *club = home_side ? home : host;
    json_t *hv = NULL, *ov = NULL, *doc = NULL, *t = NULL;
    int rc = -1;
    if (!(hv = club_vars(call, home, home_side ? &doc : NULL, e)) ||
        !(ov = club_vars(call, host, home_side ? NULL : &doc, e)) ||
        op(call, "auth", "role_holders", club, "auth:directory",
           json_pack("{s:s, s:s}", "club_id", club, "role", "club_treasurer"), &t, e) != 0)
        goto done;
    json_t *users = json_object_get(t, "users"), *u;
    size_t i;
    rc = 0;
    json_array_foreach(users, i, u) {
        if (rc == 0 && *sget(u, "email"))
            rc = statement_recipient(ev, club, doc, u, home_side ? hv : ov, hv, ov, list, n, e);
    }
    if (rc == 0 && json_array_size(users) == 0 && *sget(doc, "contact_email"))
        rc = statement_recipient(ev, club, doc, NULL, home_side ? hv : ov, hv, ov, list, n, e);
done:
    json_decref(t);
    json_decref(doc);
    json_decref(hv);
    json_decref(ov);
    return rc;
}

/* ---- queueing ------------------------------------------------------------------------------- */

/* What the message is about: the visit, token or agreement of the event ("" = none). */
static const char *subject_id(const svc_event_t *ev) {
    static const char *const keys[] = {"visit_id", "token_id", "agreement_id", NULL};
    for (const char *const *k = keys; *k; k++)
        if (*sget(ev->data, *k)) return sget(ev->data, *k);
    return "";
}

/* The INSERT of message rows [{i, club_id, user_id, event_id, ...}] (insert_message's
 * objects), in their order: one statement for a whole consumer batch. */
static int messages_insert(db_tx_t *tx, json_t *rows, err_t *e) {
    return notify_exec_json(
        tx,
        "INSERT INTO notification.messages (club_id, user_id, event_id, event_type, "
        "template, "
        "locale, channel, recipient, critical, vars, subject, body_text, next_attempt_at, "
        "idempotency_key, cancellation_key, scheduled_for, expires_at, digest, "
        "digest_window) "
        "SELECT x.club_id, x.user_id, x.event_id, x.event_type, x.template, x.locale, "
        "x.channel, "
        "x.recipient, x.critical, x.vars, x.subject, x.body_text, "
        "greatest(coalesce(x.deliver_at, "
        "now()), coalesce(s.due, now())), x.idem, x.cancel, s.due, s.expires, "
        "x.digest_window IS "
        "NOT NULL, coalesce(x.digest_window, 'daily') FROM jsonb_to_recordset($1::jsonb) AS "
        "x(i "
        "int, club_id uuid, user_id uuid, event_id uuid, event_type text, template text, "
        "locale "
        "text, channel text, recipient text, critical boolean, vars jsonb, subject text, "
        "body_text text, deliver_at timestamptz, idem text, cancel text, arrive date, tz "
        "text, "
        "digest_window text) CROSS JOIN LATERAL (SELECT ((x.arrive - 1) + time '09:00') AT "
        "TIME "
        "ZONE x.tz AS due, (x.arrive + time '00:00') AT TIME ZONE x.tz AS expires) s ORDER "
        "BY "
        "x.i ON CONFLICT DO NOTHING",
        rows, e);
}

/* One row, once: the unique keys (event, template, channel, recipient) and (club,
 * idempotency key, channel, recipient) make a replayed or re-published event queue nothing.
 * deliver_at: the end of quiet hours ("" = now); a NOTIFY_DAY_BEFORE rule is due at 09:00 the
 * day before arrive_on in the host's zone and expires when that day starts (skipped when the
 * event has no dates). In a consumer batch (ev->acc) the row waits for the batch's flush
 * (notify_messages_flush): one INSERT for all the batch's events instead of one per row. */
static int insert_message(db_tx_t *tx, const svc_event_t *ev, const notify_rule_t *rule,
                          const recipient_t *r, const char *channel, const char *to,
                          const char *subject, const char *text, const char *deliver_at, int digest,
                          err_t *e) {
    const char *about = subject_id(ev), *arrive = NULL, *tz = NULL;
    if (rule->flags & NOTIFY_DAY_BEFORE) {
        arrive = sget(ev->data, "arrive_on");
        tz = sget(ev->data, "host_timezone");
        if (!*arrive || !*tz) return 0;
    }
    char idem[256], cancel[128];
    snprintf(idem, sizeof idem, "%s:%s", rule->template, about);
    snprintf(cancel, sizeof cancel, "visit:%s", sget(ev->data, "visit_id"));
    json_t *vars = json_deep_copy(r->vars), *rows = ev->acc ? NULL : json_array();
    json_t *row =
        vars
            ? json_pack("{s:i, s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:s?, s:s?, "
                        "s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}",
                        "i", ev->acc ? (int)json_array_size(ev->acc) : 0, "club_id", r->club_id,
                        "user_id", r->user_id[0] ? r->user_id : NULL, "event_id", ev->id,
                        "event_type", ev->type, "template", rule->template, "locale", r->locale,
                        "channel", channel, "recipient", to, "critical", rule->critical, "vars",
                        vars, "subject", subject, "body_text", text, "deliver_at",
                        deliver_at && *deliver_at ? deliver_at : NULL, "idem", *about ? idem : NULL,
                        "cancel", *sget(ev->data, "visit_id") ? cancel : NULL, "arrive", arrive,
                        "tz", tz, "digest_window",
                        digest == 2 ? "hourly"
                        : digest    ? "daily"
                                    : NULL)
            : NULL;
    if (!row || (!ev->acc && !rows)) {
        json_decref(row);
        json_decref(rows);
        return err_set(e, 500, "internal", "", "out of memory");
    }
    if (ev->acc) /* the consumer's batch: tagged for notify_messages_flush */
        return json_array_append_new(ev->acc, json_pack("{s:o}", "message", row)) == 0
                   ? 0
                   : err_set(e, 500, "internal", "", "out of memory");
    int rc = json_array_append_new(rows, row) == 0
                 ? messages_insert(tx, rows, e)
                 : err_set(e, 500, "internal", "", "out of memory");
    json_decref(rows);
    return rc;
}

int notify_messages_flush(db_tx_t *tx, json_t *acc, err_t *e) {
    json_t *rows = json_array(), *v;
    if (!rows) return err_set(e, 500, "internal", "", "out of memory");
    for (size_t i = 0; acc && i < json_array_size(acc);) {
        if (!(v = json_object_get(json_array_get(acc, i), "message"))) {
            i++;
            continue;
        }
        json_array_append(rows, v);
        json_array_remove(acc, i);
    }
    int rc = json_array_size(rows) ? messages_insert(tx, rows, e) : 0;
    json_decref(rows);
    return rc;
}

/* NOTIFY_CANCELS: the queued messages about the event's visit are not sent (a cancelled visit's
 * reminder, a mail deferred by quiet hours). */
static int cancel_pending(db_tx_t *tx, const svc_event_t *ev, err_t *e) {
    char key[128];
    if (!*sget(ev->data, "visit_id")) return 0;
    /* the batch's earlier events queued their rows first (they may be what is cancelled) */
    if (notify_messages_flush(tx, ev->acc, e) != 0) return -1;
    snprintf(key, sizeof key, "visit:%s", sget(ev->data, "visit_id"));
    const char *p[] = {sget(ev->data, "home_club_id"), key, ev->type};
    return db_exec_cmd(
               tx,
               "UPDATE notification.messages SET status = 'not_sent', cancelled_at = now(), "
               "last_error = 'cancelled by ' || $3 WHERE club_id = $1::uuid AND "
               "cancellation_key = $2 AND status = 'queued'",
               3, p, e) < 0
               ? -1
               : 0;
}

/* The recipient's language: the one its account chose in its preferences (migration 0018),
 * else the audience's (a member's profile language, else en). Then the dates, times and money
 * of its variables formatted for that locale and its time zone (its own, else the club's): the
 * "_local" values of icu_fmt.h. */
static int localise(db_tx_t *tx, recipient_t *r, err_t *e) {
    char tz[64];
    snprintf(tz, sizeof tz, "%s", r->tz[0] ? r->tz : "UTC");
    if (r->user_id[0]) {
        const char *p[] = {r->club_id, r->user_id};
        PGresult *q = db_exec(tx,
                              "SELECT timezone, locale FROM notification.preferences WHERE "
                              "club_id = $1::uuid AND user_id = $2 AND (timezone IS NOT NULL OR "
                              "locale IS NOT NULL)",
                              2, p, e);
        if (!q) return -1;
        if (PQntuples(q) == 1 && !PQgetisnull(q, 0, 0))
            snprintf(tz, sizeof tz, "%s", PQgetvalue(q, 0, 0));
        if (PQntuples(q) == 1 && !PQgetisnull(q, 0, 1))
            snprintf(r->locale, sizeof r->locale, "%s", PQgetvalue(q, 0, 1));
        PQclear(q);
    }
    return notify_format_vars(r->vars, r->locale, tz, e);
}

/* SMS and push (issue 13; provider.c sends, rendered at send like email): the member's phone,
 * E.164 checked again here (a number that is not is skipped, logged), and each of the user's
 * registered devices (at most 10), when that channel's provider is configured; the recipient's
 * wishes as for email (opt-outs drop, quiet hours defer; critical ignores both). SMS and push
 * are opt-in (preferences sms, push): a non-critical one needs an account that switched it on. */
static int queue_mobile(const svc_call_t *call, db_tx_t *tx, const svc_event_t *ev,
                        const notify_rule_t *rule, const recipient_t *r, err_t *e) {
    const notification_settings_t *s = notification_settings(call->env);
    int send = 1, digest = 0;
    char at[40];
    if ((rule->channels & NOTIFY_SMS) && r->phone[0] && notify_provider_enabled(s, "sms") &&
        (rule->critical || r->user_id[0])) {
        if (!jsonx_is_e164(r->phone)) {
            log_warn("notification: member phone of event %s is not E.164, no SMS", ev->id);
        } else if (notify_prefs_decide(tx, r->club_id, r->user_id, rule->category, "sms",
                                       rule->critical, r->tz, NULL, &send, at, &digest, e) != 0 ||
                   (send &&
                    insert_message(tx, ev, rule, r, "sms", r->phone, NULL, NULL, at, 0, e) != 0)) {
            return -1;
        }
    }
    if (!(rule->channels & NOTIFY_PUSH) || !r->user_id[0] || !notify_provider_enabled(s, "push"))
        return 0;
    if (notify_prefs_decide(tx, r->club_id, r->user_id, rule->category, "push", rule->critical,
                            r->tz, NULL, &send, at, &digest, e) != 0)
        return -1;
    if (!send) return 0;
    const char *p[] = {r->club_id, r->user_id};
    PGresult *d = db_exec(tx,
                          "SELECT id::text FROM notification.devices WHERE club_id = $1::uuid AND "
                          "user_id = $2 ORDER BY created_at LIMIT 10",
                          2, p, e);
    if (!d) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(d); i++)
        rc = insert_message(tx, ev, rule, r, "push", PQgetvalue(d, i, 0), NULL, NULL, at, 0, e);
    PQclear(d);
    return rc;
}

/* The rows of one recipient: email queued for the worker (rendered at send), in-app rendered
 * now (plain text; no token ever goes in-app). */
static int queue(const svc_call_t *call, db_tx_t *tx, const svc_event_t *ev,
                 const notify_rule_t *rule, recipient_t *r, err_t *e) {
    int send = 1, digest = 0;
    char at[40];
    if (localise(tx, r, e) != 0) return -1;
    /* the worker attaches the calendar entry when the variables ask for it */
    if ((rule->flags & NOTIFY_ICS) && *sget(ev->data, "arrive_on") &&
        json_object_set_new(r->vars, "calendar", json_true()) != 0)
        return err_set(e, 500, "internal", "", "out of memory");
    /* the recipient's wishes (prefs.c): opt-outs, and quiet hours defer non-critical email */
    if ((rule->channels & NOTIFY_EMAIL) && r->email[0] &&
        (notify_prefs_decide(tx, r->club_id, r->user_id, rule->category, "email", rule->critical,
                             r->tz, NULL, &send, at, &digest, e) != 0 ||
         (send &&
          insert_message(tx, ev, rule, r, "email", r->email, NULL, NULL, at, digest, e) != 0)))
        return -1;
    if ((rule->channels & (NOTIFY_SMS | NOTIFY_PUSH)) &&
        queue_mobile(call, tx, ev, rule, r, e) != 0)
        return -1;
    if (!(rule->channels & NOTIFY_IN_APP) || !r->user_id[0]) return 0;
    if (notify_prefs_decide(tx, r->club_id, r->user_id, rule->category, "in_app", rule->critical,
                            r->tz, NULL, &send, at, &digest, e) != 0)
        return -1;
    if (!send) return 0;
    char *st = NULL, *bt = NULL, *subject = NULL, *text = NULL;
    int rc = -1;
    if (notify_template(tx, r->club_id, rule->template, r->locale, &st, &bt, e) != 0 ||
        notify_render(st, bt, r->vars, &subject, &text, NULL, e) != 0)
        goto done;
    rc = insert_message(tx, ev, rule, r, "in_app", r->user_id, subject, text, NULL, 0, e);
done:
    free(st);
    free(bt);
    free(subject);
    free(text);
    return rc;
}

int notify_on_event(const svc_call_t *call, db_tx_t *tx, const svc_event_t *ev, err_t *e) {
    for (size_t k = 0; k < notify_n_rules; k++) {
        const notify_rule_t *rule = &notify_rules[k];
        if (strcmp(rule->event, ev->type) != 0) continue;
        /* an SMS/push-only row with neither provider configured: no audience to resolve */
        if (!(rule->channels & (NOTIFY_EMAIL | NOTIFY_IN_APP)) &&
            !notify_provider_enabled(notification_settings(call->env), "sms") &&
            !notify_provider_enabled(notification_settings(call->env), "push"))
            continue;
        if ((rule->flags & NOTIFY_CANCELS) && cancel_pending(tx, ev, e) != 0) return -1;
        recipient_t *list = NULL;
        size_t n = 0;
        int rc = strcmp(rule->audience, "token_user") == 0 ? aud_token_user(call, ev, &list, &n, e)
                 : strcmp(rule->audience, "visit_member") == 0
                     ? aud_visit_member(call, ev, &list, &n, e)
                 : strcmp(rule->audience, "statement_home") == 0
                     ? aud_statement_club(call, ev, 1, &list, &n, e)
                 : strcmp(rule->audience, "statement_host") == 0
                     ? aud_statement_club(call, ev, 0, &list, &n, e)
                     : aud_party_clubs(call, ev, &list, &n, e);
        for (size_t i = 0; i < n; i++) {
            if (rc == 0) rc = queue(call, tx, ev, rule, &list[i], e);
            json_decref(list[i].vars);
        }
        free(list);
        if (rc != 0) return -1;
    }
    return 0;
}
