/* log: see log.h. Owns the process-wide log settings (level, format, service name, output
 * stream) and the thread-local request context. Each call builds one complete line in memory
 * and writes it with a single write(2) (or fwrite when the stream has no descriptor) under a
 * mutex, so lines from different threads never interleave. Times are UTC in both formats. */
#include "core/log.h"
#include "core/strbuf.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define LOG_ID_MAX 128    /* request/trace ids longer than this are truncated */
#define LOG_MSG_MAX 16384 /* formatted messages longer than this are truncated */
#define LOG_SERVICE_MAX 64

static atomic_int g_level = LOG_INFO;
static atomic_int g_json = 1;
static char g_service[LOG_SERVICE_MAX] = "reciprocal";
static FILE *g_stream; /* NULL = stderr */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static _Thread_local char t_request_id[LOG_ID_MAX];
static _Thread_local char t_trace_id[LOG_ID_MAX];

static const char *const k_level_json[] = {"debug", "info", "warn", "error"};
static const char *const k_level_text[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

void log_init(int level, int json, const char *service) {
    if (level < LOG_DEBUG) level = LOG_DEBUG;
    if (level > LOG_ERROR) level = LOG_ERROR;
    atomic_store(&g_level, level);
    atomic_store(&g_json, json ? 1 : 0);
    pthread_mutex_lock(&g_mu);
    snprintf(g_service, sizeof g_service, "%s", service && *service ? service : "reciprocal");
    pthread_mutex_unlock(&g_mu);
}

void log_set_stream(FILE *f) {
    pthread_mutex_lock(&g_mu);
    g_stream = f;
    pthread_mutex_unlock(&g_mu);
}

int log_enabled(int level) {
    return level >= atomic_load(&g_level);
}

static void copy_id(char *dst, const char *src) {
    if (!src) {
        dst[0] = '\0';
        return;
    }
    snprintf(dst, LOG_ID_MAX, "%s", src);
}

void log_set_context(const char *request_id, const char *trace_id) {
    copy_id(t_request_id, request_id);
    copy_id(t_trace_id, trace_id);
}

void log_clear_context(void) {
    t_request_id[0] = '\0';
    t_trace_id[0] = '\0';
}

const char *log_request_id(void) {
    return t_request_id;
}

const char *log_trace_id(void) {
    return t_trace_id;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return len;
}

/* Replaces invalid UTF-8 in place with '?', so the message can always become a JSON string. */
static void utf8_sanitize(char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq((const unsigned char *)s + i, n - i);
        if (l == 0) {
            s[i] = '?';
            l = 1;
        }
        i += l;
    }
}

/* Formats into buf (size cap) or a heap buffer for long messages; returns the string to use and
 * sets *heap when it must be freed. Never returns NULL. */
static char *format_msg(char *buf, size_t cap, const char *fmt, va_list ap, char **heap) {
    *heap = NULL;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(buf, cap, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        snprintf(buf, cap, "(unformattable log message)");
        return buf;
    }
    if ((size_t)n >= cap) {
        size_t want = (size_t)n + 1;
        if (want > LOG_MSG_MAX) want = LOG_MSG_MAX;
        char *h = malloc(want);
        if (h) {
            vsnprintf(h, want, fmt, ap2);
            *heap = h;
            va_end(ap2);
            utf8_sanitize(h, strlen(h));
            return h;
        }
    }
    va_end(ap2);
    utf8_sanitize(buf, strlen(buf));
    return buf;
}

static void now_parts(struct tm *tm, int *ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t secs = ts.tv_sec;
    gmtime_r(&secs, tm);
    *ms = (int)(ts.tv_nsec / 1000000);
}

/* Writes the whole line at once under the mutex. */
static void emit(const char *line, size_t len) {
    pthread_mutex_lock(&g_mu);
    FILE *f = g_stream ? g_stream : stderr;
    int fd = fileno(f);
    if (fd >= 0) {
        fflush(f); /* nothing should be buffered, but keep stdio and the fd in step */
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(fd, line + off, len - off);
            if (w < 0) {
                if (errno == EINTR) continue;
                break;
            }
            off += (size_t)w;
        }
    } else {
        fwrite(line, 1, len, f);
        fflush(f);
    }
    pthread_mutex_unlock(&g_mu);
}

static char *build_json(int level, json_t *fields, const char *msg) {
    struct tm tm;
    int ms;
    now_parts(&tm, &ms);
    char ts[96];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);

    char service[LOG_SERVICE_MAX];
    pthread_mutex_lock(&g_mu);
    memcpy(service, g_service, sizeof service);
    pthread_mutex_unlock(&g_mu);

    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "time", json_string(ts));
    json_object_set_new(o, "level", json_string(k_level_json[level]));
    json_object_set_new(o, "service", json_string(service));
    /* ids come from headers: sanitize before they reach json_string (which rejects bad UTF-8) */
    if (t_request_id[0]) {
        char id[LOG_ID_MAX];
        memcpy(id, t_request_id, sizeof id);
        utf8_sanitize(id, strlen(id));
        json_object_set_new(o, "request_id", json_string(id));
    }
    if (t_trace_id[0]) {
        char id[LOG_ID_MAX];
        memcpy(id, t_trace_id, sizeof id);
        utf8_sanitize(id, strlen(id));
        json_object_set_new(o, "trace_id", json_string(id));
    }
    json_object_set_new(o, "message", json_string(msg));
    /* extra fields never overwrite the standard ones */
    if (fields && json_is_object(fields)) json_object_update_missing(o, fields);

    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (!s) return NULL;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

/* Text mode: control characters are escaped so one call stays one line. */
static void sb_put_escaped(strbuf_t *b, const char *s) {
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\n') {
            strbuf_puts(b, "\\n");
        } else if (c == '\r') {
            strbuf_puts(b, "\\r");
        } else if (c == '\t') {
            strbuf_puts(b, "\\t");
        } else if (c < 0x20 || c == 0x7F) {
            char hex[8];
            snprintf(hex, sizeof hex, "\\x%02x", c);
            strbuf_puts(b, hex);
        } else {
            strbuf_putn(b, p, 1);
        }
    }
}

static void sb_put_value(strbuf_t *b, json_t *v) {
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        int quote = (*s == '\0');
        for (const char *p = s; *p && !quote; p++)
            if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20) quote = 1;
        if (quote) {
            /* JSON string syntax is a fine quoting convention for text logs */
            char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
            if (d) {
                strbuf_puts(b, d);
                free(d);
            }
        } else {
            sb_put_escaped(b, s);
        }
        return;
    }
    char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (d) {
        strbuf_puts(b, d);
        free(d);
    }
}

static char *build_text(int level, json_t *fields, const char *msg) {
    struct tm tm;
    int ms;
    now_parts(&tm, &ms);
    char head[LOG_SERVICE_MAX + 64];
    pthread_mutex_lock(&g_mu);
    snprintf(head, sizeof head, "%02d:%02d:%02d.%03d %s [%s] ", tm.tm_hour, tm.tm_min, tm.tm_sec,
             ms, k_level_text[level], g_service);
    pthread_mutex_unlock(&g_mu);

    strbuf_t b = {0};
    strbuf_puts(&b, head);
    sb_put_escaped(&b, msg);
    if (fields && json_is_object(fields)) {
        const char *k;
        json_t *v;
        json_object_foreach(fields, k, v) {
            strbuf_puts(&b, " ");
            sb_put_escaped(&b, k);
            strbuf_puts(&b, "=");
            sb_put_value(&b, v);
        }
    }
    if (t_request_id[0] || t_trace_id[0]) {
        strbuf_puts(&b, " (");
        if (t_request_id[0]) {
            strbuf_puts(&b, "req=");
            sb_put_escaped(&b, t_request_id);
        }
        if (t_trace_id[0]) {
            if (t_request_id[0]) strbuf_puts(&b, " ");
            strbuf_puts(&b, "trace=");
            sb_put_escaped(&b, t_trace_id);
        }
        strbuf_puts(&b, ")");
    }
    strbuf_puts(&b, "\n");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static void vlog(int level, json_t *fields, const char *fmt, va_list ap) {
    if (level < LOG_DEBUG) level = LOG_DEBUG;
    if (level > LOG_ERROR) level = LOG_ERROR;
    if (!log_enabled(level)) return;
    char buf[1024];
    char *heap;
    const char *msg = format_msg(buf, sizeof buf, fmt, ap, &heap);
    char *line =
        atomic_load(&g_json) ? build_json(level, fields, msg) : build_text(level, fields, msg);
    if (line) {
        emit(line, strlen(line));
        free(line);
    } else {
        static const char oom[] = "log: out of memory while formatting a log line\n";
        emit(oom, sizeof oom - 1);
    }
    free(heap);
}

void log_msg(int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, fmt, ap);
    va_end(ap);
}

void log_fields(int level, json_t *fields, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fields, fmt, ap);
    va_end(ap);
}

void log_thread_name(const char *kind, const char *name) {
    char buf[16];
    snprintf(buf, sizeof buf, "%s:%s", kind, name ? name : "");
    (void)prctl(PR_SET_NAME, buf, 0, 0, 0);
}
