/* sink: the real servers the notification tests deliver to, started as child processes on free
 * ports of 127.0.0.1: the SMTP server (aiosmtpd, tests/services/notification/smtp_server.py,
 * writing every accepted mail into a Maildir in the scratch folder RECIPROCAL_TEST_TMP) and the
 * HTTP receivers beside it (webhook_receiver.py, provider_receiver.py). One place for what every
 * test_notification*.c used to copy: fork + exec python3, wait until the port answers, SIGTERM +
 * wait at the end, and reading the Maildir back. Owns its child processes (sink_stop /
 * sink_mail_stop end them); no global state. */
#ifndef TESTS_SUPPORT_SINK_H
#define TESTS_SUPPORT_SINK_H

#include <stddef.h>
#include <sys/types.h>

/* A child server: its pid (-1 when not running) and port. */
typedef struct sink_proc {
    pid_t pid;
    int port;
} sink_proc_t;

/* Starts `python3 $RECIPROCAL_TEST_ROOT/<script> PORT args...` (args NULL-terminated, may be
 * NULL) on a free port (port 0) or on the given one, and waits up to 10 s until the port
 * answers. 0, or -1 (nothing left running, printing why). */
int sink_start(sink_proc_t *p, const char *script, int port, const char *const *args);
/* SIGTERM and wait (no-op when not running). */
void sink_stop(sink_proc_t *p);

/* The SMTP server and its Maildir. */
typedef struct sink_mail {
    sink_proc_t proc;
    char maildir[512]; /* $RECIPROCAL_TEST_TMP/<tag>-mail-<pid> */
    char url[96];      /* smtp://127.0.0.1:PORT */
    char env[128];     /* RECIPROCAL_SMTP_URL=smtp://127.0.0.1:PORT (for e2e_start) */
} sink_mail_t;

/* Starts smtp_server.py on a free port with a fresh Maildir named after tag; with cert and key
 * (PEM files, both or neither) it requires STARTTLS. 0, or -1. */
int sink_mail_start(sink_mail_t *m, const char *tag, const char *cert, const char *key);
void sink_mail_stop(sink_mail_t *m);
/* Calls fn(text, ud) for every mail in the Maildir (its first cap - 1 bytes, NUL-terminated,
 * cap 0 = 64 KiB); fn answers 0 to go on, 1 to stop. The number of mails visited. */
int sink_mail_each(const sink_mail_t *m, size_t cap, int (*fn)(const char *text, void *ud),
                   void *ud);
/* Mails whose text contains needle and also (either NULL: any); the last one's text into *last
 * (malloc'd, the previous value freed) when last is not NULL. */
int sink_mails_matching(const sink_mail_t *m, const char *needle, const char *also, char **last);
/* Mails to address ("To: <address>") whose text also contains also (NULL: any). */
int sink_mails_to(const sink_mail_t *m, const char *address, const char *also);
/* Decodes the base64 text/plain part of a mail (the first base64 block after it) into out. */
void sink_mail_plain_part(const char *mail, char *out, size_t cap);

#endif
