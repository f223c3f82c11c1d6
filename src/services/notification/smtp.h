/* smtp: sends one email over SMTP with libcurl (smtp:// with STARTTLS when offered or required,
 * smtps://, AUTH when a user is set): a multipart/alternative message with a plain-text and an
 * HTML part (both UTF-8, base64), optionally a calendar attachment (.ics), a Message-ID and a Date.
 * Classifies failures as the delivery rules need them: a 5xx reply is permanent, a 4xx reply or a
 * connection/TLS/timeout error is transient. Owns nothing between calls. */
#ifndef SERVICES_NOTIFICATION_SMTP_H
#define SERVICES_NOTIFICATION_SMTP_H

#include <stddef.h>

#include "core/err.h"

typedef struct notify_smtp {
    const char *url;      /* smtp://host:port or smtps://host:port */
    const char *user;     /* "" = no AUTH */
    const char *password; /* never logged */
    int tls;              /* NOTIFY_TLS_*: STARTTLS policy of smtp:// */
    int timeout_s;
    const char *ca_file; /* NULL or "" = the system's CA store; the peer is always verified */
} notify_smtp_t;

enum { NOTIFY_TLS_TRY, NOTIFY_TLS_REQUIRED, NOTIFY_TLS_OFF };

typedef struct notify_mail {
    const char *from; /* "Name <addr>" or "addr" */
    const char *to;   /* one address */
    const char *subject;
    const char *text;
    const char *html; /* NULL = text only */
    const char *ics;  /* NULL = none; else a text/calendar attachment (with html: the message is
                         multipart/mixed around the multipart/alternative) */
    const char *message_id; /* NULL = a random one; else the Message-ID without its angle
                               brackets ("<id>@<domain>", bounce.c), named by status callbacks */
} notify_mail_t;

/* 0 when the server accepted the message; -1 + e: 502 smtp_rejected (a 5xx reply: permanent,
 * e->message has the reply code), 503 smtp_unavailable (4xx, connection, TLS, timeout: retry),
 * 422 invalid_field (an address or header with a line break or without '@'). */
int notify_smtp_send(const notify_smtp_t *s, const notify_mail_t *m, err_t *e);

/* The message as sent (headers + body, CRLF lines), malloc'd; NULL on bad input (e set). For
 * tests and the preview. boundary_seed makes the boundary and Message-ID deterministic when
 * not NULL. */
char *notify_mime_build(const notify_mail_t *m, const char *boundary_seed, err_t *e);

#endif
