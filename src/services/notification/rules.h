/* rules: the notification rule table (event type -> audience -> template -> channels, critical),
 * the network default templates (en) with the club-override resolution, the rendering of a
 * template (Mustache in strict mode, Markdown -> HTML with cmark, plain text), and the consumer
 * handler that turns one event into queued messages. Audiences are resolved through operations
 * of the owning services (auth.delivery_token, member.member_contact, member.get_club), never their
 * tables. Owns nothing between calls. */
#ifndef SERVICES_NOTIFICATION_RULES_H
#define SERVICES_NOTIFICATION_RULES_H

#include <jansson.h>

#include "core/service.h"

enum { NOTIFY_EMAIL = 1, NOTIFY_IN_APP = 2 };
/* SMS (the member's E.164 phone) and push (each registered device): provider.c */
enum { NOTIFY_SMS = 4, NOTIFY_PUSH = 8 };

typedef struct notify_rule {
    const char *event;    /* "visit.confirmed" */
    const char *audience; /* "token_user", "visit_member", "party_clubs", "statement_home",
                             "statement_host" */
    const char *template; /* key of the template */
    unsigned channels;    /* NOTIFY_EMAIL | NOTIFY_IN_APP */
    int critical;         /* sent whatever the recipient's opt-outs and quiet hours */
    const char *category; /* preferences (prefs.h): "security" (mandatory), "visits", ... */
    unsigned flags;       /* NOTIFY_CANCELS | NOTIFY_DAY_BEFORE */
} notify_rule_t;

/* NOTIFY_CANCELS: the event first cancels the queued messages of its subject (cancellation key
 * "visit:<id>"); NOTIFY_DAY_BEFORE: due at 09:00 (host's zone) the day before arrive_on, expires
 * at the start of that day; NOTIFY_ICS: the email carries the visit's calendar entry (ics.h). */
enum { NOTIFY_CANCELS = 1, NOTIFY_DAY_BEFORE = 2, NOTIFY_ICS = 4 };

extern const notify_rule_t notify_rules[];
extern const size_t notify_n_rules;

/* The consumer handler of every notification consumer (core/consumer.h): applies the rules of
 * ev->type; events without a rule are ignored (0). */
int notify_on_event(const svc_call_t *call, db_tx_t *tx, const svc_event_t *ev, err_t *e);
/* A consumer batch's flush: the message rows notify_on_event left in acc (the batch's
 * accumulator, items {"message": row}) inserted in one statement, in their order, and removed
 * from acc (the other items stay). 0 or -1 + e. */
int notify_messages_flush(db_tx_t *tx, json_t *acc, err_t *e);

/* The template key/locale for club_id (NULL = network) by the resolution order: club override
 * in locale -> club override in "en" -> network default in locale -> network default "en".
 * *subject and *body are malloc'd. 0, or -1 + 404 not_found (no such key) / db error. */
int notify_template(db_tx_t *tx, const char *club_id, const char *key, const char *locale,
                    char **subject, char **body, err_t *e);

/* Sample variables of template key (the shape its rule's audience gives), for the preview: a
 * new reference, or NULL when no rule uses key. */
json_t *notify_sample_vars(const char *key);

/* Renders subject and body (Markdown) with vars: *subject and *text always, *html when html is
 * not NULL (cmark, raw HTML dropped). A missing variable is 422 template_error naming it. */
int notify_render(const char *subject_t, const char *body_t, json_t *vars, char **subject,
                  char **text, char **html, err_t *e);

#endif
