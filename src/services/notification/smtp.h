/* smtp: sends one email over SMTP with libcurl (smtp:// with STARTTLS when offered or required,
 * smtps://, AUTH when a user is set): a multipart/alternative message with a plain-text and an
 * HTML part (both UTF-8, base64), optionally a calendar attachment (.ics), a Message-ID and a Date.
 * Classifies failures as the delivery rules need them: a 5xx reply is permanent, a 4xx reply or a
 * connection/TLS/timeout error is transient. notify_smtp_send owns nothing between calls; a
 * session (notify_smtp_session_*) keeps one SMTP connection open across mails (issue 13 mail
 * throughput): the next mail to the same server goes out as MAIL FROM/RCPT TO/DATA on it, with no
 * connect, TLS handshake, EHLO or AUTH. Owned by one thread at a time; freed by its owner. */
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
 * e->message has the reply code; 550-553, a refused mailbox or address, have e->field "to"),
 * 503 smtp_unavailable (4xx, connection, TLS, timeout: retry),
 * 422 invalid_field (an address or header with a line break or without '@'). */
int notify_smtp_send(const notify_smtp_t *s, const notify_mail_t *m, err_t *e);

/* A reusable SMTP connection (libcurl easy handle and its connection cache). A failed send
 * closes it, so a broken session is never inherited by the next mail; a connection idle longer
 * than NOTIFY_SMTP_IDLE_S is not reused; a reused connection the server had closed before the
 * mail got any reply is retried once on a fresh one (nothing was accepted on it). */
#define NOTIFY_SMTP_IDLE_S 30
typedef struct notify_smtp_session notify_smtp_session_t;
notify_smtp_session_t *notify_smtp_session_new(void);     /* NULL: out of memory */
void notify_smtp_session_free(notify_smtp_session_t *ss); /* QUIT when a connection is open */
/* As notify_smtp_send, on ss's connection to s->url (opened when needed). */
int notify_smtp_session_send(notify_smtp_session_t *ss, const notify_smtp_t *s,
                             const notify_mail_t *m, err_t *e);

/* The message as sent (headers + body, CRLF lines), malloc'd; NULL on bad input (e set). For
 * tests and the preview. boundary_seed makes the boundary and Message-ID deterministic when
 * not NULL. */
/* 1 when the failure e of a send says the relay itself failed (connection refused, TLS,
 * timeout, a 4xx reply, or a 5xx reply other than 550-553), 0 when the recipient was refused
 * (550-553) or the mail was bad (422): what counts towards a failover to a secondary relay. */
int notify_smtp_relay_failed(const err_t *e);

char *notify_mime_build(const notify_mail_t *m, const char *boundary_seed, err_t *e);

#endif
