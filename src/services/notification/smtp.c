/* smtp: see smtp.h. A session is one libcurl easy handle kept between mails: curl_easy_reset
 * keeps its live connection, so the next mail to the same server reuses it (curl sends no EHLO
 * or AUTH again, only MAIL FROM, RCPT TO and DATA). A failed mail drops the handle (and its
 * connection). notify_smtp_send is a session of one mail. */
#include "services/notification/smtp.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_str(sbuf_t *b, const char *s) {
    sb_put(b, s, strlen(s));
}

/* base64 of s in lines of 76 characters, CRLF-terminated. */
static void sb_base64(sbuf_t *b, const char *s, size_t n) {
    for (size_t at = 0; at < n || (n == 0 && at == 0); at += 57) {
        size_t chunk = n - at < 57 ? n - at : 57;
        char line[80];
        sodium_bin2base64(line, sizeof line, (const unsigned char *)s + at, chunk,
                          sodium_base64_VARIANT_ORIGINAL);
        sb_str(b, line);
        sb_str(b, "\r\n");
        if (n == 0) break;
    }
}

static int has_line_break(const char *s) {
    return s && strpbrk(s, "\r\n") != NULL;
}

static int ascii_only(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x7f || (unsigned char)*s < 0x20) return 0;
    return 1;
}

/* The bare address of "Name <addr>" or "addr" into out. 0, or -1 when there is none. */
static int bare_address(const char *from, char *out, size_t cap) {
    const char *lt = strrchr(from, '<');
    const char *start = lt ? lt + 1 : from;
    size_t n = lt ? strcspn(start, ">") : strlen(start);
    if (n == 0 || n >= cap || (lt && start[n] != '>')) return -1;
    memcpy(out, start, n);
    out[n] = '\0';
    if (!strchr(out, '@') || strpbrk(out, " <>\"")) return -1;
    return 0;
}

static void random_hex(char *out, size_t bytes) {
    unsigned char b[32];
    if (bytes > sizeof b) bytes = sizeof b;
    randombytes_buf(b, bytes);
    sodium_bin2hex(out, bytes * 2 + 1, b, bytes);
}

char *notify_mime_build(const notify_mail_t *m, const char *boundary_seed, err_t *e) {
    char addr[320], boundary[80], id[80], date[64];
    if (!m->to || has_line_break(m->to) || bare_address(m->to, addr, sizeof addr) != 0) {
        err_set(e, 422, "invalid_field", "to", "the recipient is not an email address");
        return NULL;
    }
    if (!m->from || has_line_break(m->from) || bare_address(m->from, addr, sizeof addr) != 0) {
        err_set(e, 422, "invalid_field", "from", "the sender is not an email address");
        return NULL;
    }
    if (!m->subject || has_line_break(m->subject) || !m->text) {
        err_set(e, 422, "invalid_field", "subject", "the subject must be one line");
        return NULL;
    }
    if (sodium_init() < 0) {
        err_set(e, 500, "internal", "", "libsodium unavailable");
        return NULL;
    }
    char rnd[33];
    if (boundary_seed)
        snprintf(rnd, sizeof rnd, "%s", boundary_seed);
    else
        random_hex(rnd, 16);
    snprintf(boundary, sizeof boundary, "=_rc_%s", rnd);
    const char *domain = strchr(addr, '@') + 1;
    if (m->message_id && *m->message_id)
        snprintf(id, sizeof id, "<%.77s>", m->message_id);
    else
        snprintf(id, sizeof id, "<%s@%.40s>", rnd, domain);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);

    sbuf_t b = {0};
    sb_str(&b, "Date: ");
    sb_str(&b, date);
    sb_str(&b, "\r\nFrom: ");
    sb_str(&b, m->from);
    sb_str(&b, "\r\nTo: ");
    sb_str(&b, m->to);
    sb_str(&b, "\r\nSubject: ");
    if (ascii_only(m->subject)) {
        sb_str(&b, m->subject);
    } else { /* RFC 2047 encoded-word */
        size_t n = strlen(m->subject);
        char *enc = malloc(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL));
        if (!enc) b.oom = 1;
        if (enc) {
            sodium_bin2base64(enc, sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL),
                              (const unsigned char *)m->subject, n, sodium_base64_VARIANT_ORIGINAL);
            sb_str(&b, "=?UTF-8?B?");
            sb_str(&b, enc);
            sb_str(&b, "?=");
            free(enc);
        }
    }
    sb_str(&b, "\r\nMessage-ID: ");
    sb_str(&b, id);
    sb_str(&b, "\r\nMIME-Version: 1.0\r\n");
    char mixed[96];
    snprintf(mixed, sizeof mixed, "%s_mixed", boundary);
    if (m->html && m->ics) { /* multipart/mixed: the alternative, then the calendar */
        sb_str(&b, "Content-Type: multipart/mixed; boundary=\"");
        sb_str(&b, mixed);
        sb_str(&b, "\"\r\n\r\n--");
        sb_str(&b, mixed);
        sb_str(&b, "\r\n");
    }
    if (m->html) {
        sb_str(&b, "Content-Type: multipart/alternative; boundary=\"");
        sb_str(&b, boundary);
        sb_str(&b, "\"\r\n\r\n--");
        sb_str(&b, boundary);
        sb_str(&b, "\r\n");
    }
    sb_str(&b,
           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    sb_base64(&b, m->text, strlen(m->text));
    if (m->html) {
        sb_str(&b, "--");
        sb_str(&b, boundary);
        sb_str(&b, "\r\nContent-Type: text/html; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: base64\r\n\r\n");
        sb_base64(&b, m->html, strlen(m->html));
        sb_str(&b, "--");
        sb_str(&b, boundary);
        sb_str(&b, "--\r\n");
    }
    if (m->html && m->ics) {
        sb_str(&b, "--");
        sb_str(&b, mixed);
        sb_str(&b, "\r\nContent-Type: text/calendar; charset=utf-8; method=PUBLISH; "
                   "name=\"visit.ics\"\r\nContent-Disposition: attachment; "
                   "filename=\"visit.ics\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        sb_base64(&b, m->ics, strlen(m->ics));
        sb_str(&b, "--");
        sb_str(&b, mixed);
        sb_str(&b, "--\r\n");
    }
    if (b.oom) {
        free(b.s);
        err_set(e, 500, "internal", "", "out of memory");
        return NULL;
    }
    return b.s;
}

typedef struct reader {
    const char *s;
    size_t n, at;
} reader_t;

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *ud) {
    reader_t *r = ud;
    size_t room = size * nmemb, left = r->n - r->at;
    size_t k = left < room ? left : room;
    memcpy(dst, r->s + r->at, k);
    r->at += k;
    return k;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct notify_smtp_session {
    CURL *c;
    int used; /* a mail was sent on c's connection: a failure without any reply may be a stale
                 connection the server closed */
};

notify_smtp_session_t *notify_smtp_session_new(void) {
    pthread_once(&curl_once, curl_setup);
    return calloc(1, sizeof(notify_smtp_session_t));
}

void notify_smtp_session_free(notify_smtp_session_t *ss) {
    if (!ss) return;
    if (ss->c) curl_easy_cleanup(ss->c); /* sends QUIT on an open connection */
    free(ss);
}

/* One mail on ss's handle (created when needed). CURLE_* result; *code = the last SMTP reply. */
static CURLcode session_perform(notify_smtp_session_t *ss, const notify_smtp_t *s,
                                const char *mail_from, struct curl_slist *rcpt, const char *msg,
                                char errbuf[CURL_ERROR_SIZE], long *code) {
    *code = 0;
    errbuf[0] = '\0';
    if (ss->c)
        curl_easy_reset(ss->c); /* options only: the live connection stays */
    else if (!(ss->c = curl_easy_init()))
        return CURLE_FAILED_INIT;
    CURL *c = ss->c;
    reader_t rd = {msg, strlen(msg), 0};
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &rd);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_MAXAGE_CONN, (long)NOTIFY_SMTP_IDLE_S);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)(s->timeout_s > 0 ? s->timeout_s : 10));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(s->timeout_s > 0 ? s->timeout_s : 10));
    curl_easy_setopt(c, CURLOPT_USE_SSL,
                     s->tls == NOTIFY_TLS_REQUIRED ? (long)CURLUSESSL_ALL
                     : s->tls == NOTIFY_TLS_OFF    ? (long)CURLUSESSL_NONE
                                                   : (long)CURLUSESSL_TRY);
    /* TLS (STARTTLS or smtps://): the certificate chain and the host name are verified, against
     * the configured CA file when one is set */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->ca_file && *s->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
    if (s->user && *s->user) {
        curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->password ? s->password : "");
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_READDATA, NULL);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, NULL);
    return rc;
}

int notify_smtp_session_send(notify_smtp_session_t *ss, const notify_smtp_t *s,
                             const notify_mail_t *m, err_t *e) {
    char from[320], to[320], errbuf[CURL_ERROR_SIZE] = "";
    if (bare_address(m->from ? m->from : "", from, sizeof from) != 0 ||
        bare_address(m->to ? m->to : "", to, sizeof to) != 0)
        return err_set(e, 422, "invalid_field", "to", "not an email address");
    char *msg = notify_mime_build(m, NULL, e);
    if (!msg) return -1;
    char mail_from[330];
    snprintf(mail_from, sizeof mail_from, "<%s>", from);
    struct curl_slist *rcpt = curl_slist_append(NULL, to);
    long code = 0;
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    if (rcpt) {
        rc = session_perform(ss, s, mail_from, rcpt, msg, errbuf, &code);
        /* a reused connection the server closed while idle: no reply at all to this mail, so
         * nothing was accepted; once more on a new connection */
        if (rc != CURLE_OK && code == 0 && ss->used) {
            curl_easy_cleanup(ss->c);
            ss->c = NULL;
            rc = session_perform(ss, s, mail_from, rcpt, msg, errbuf, &code);
        }
    }
    curl_slist_free_all(rcpt);
    sodium_memzero(msg, strlen(msg));
    free(msg);
    if (rc == CURLE_OK) {
        ss->used = 1;
        return 0;
    }
    if (ss->c) curl_easy_cleanup(ss->c); /* a fresh connection for the next mail */
    ss->c = NULL;
    ss->used = 0;
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (code >= 550 && code <= 553)
        return err_set(e, 502, "smtp_rejected", "to", "SMTP %ld: %s", code, why);
    if (code >= 500 && code < 600)
        return err_set(e, 502, "smtp_rejected", "", "SMTP %ld: %s", code, why);
    if (code >= 400 && code < 500)
        return err_set(e, 503, "smtp_unavailable", "", "SMTP %ld: %s", code, why);
    return err_set(e, 503, "smtp_unavailable", "", "SMTP: %s", why);
}

int notify_smtp_relay_failed(const err_t *e) {
    if (e->status == 503) return 1;
    return e->status == 502 && strcmp(e->field, "to") != 0;
}

int notify_smtp_send(const notify_smtp_t *s, const notify_mail_t *m, err_t *e) {
    notify_smtp_session_t *ss = notify_smtp_session_new();
    if (!ss) return err_set(e, 503, "smtp_unavailable", "", "out of memory");
    int rc = notify_smtp_session_send(ss, s, m, e);
    notify_smtp_session_free(ss);
    return rc;
}
