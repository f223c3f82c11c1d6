/* log: structured logs, one JSON object per line on stderr (or a readable text line when
 * RECIPROCAL_LOG_FORMAT=text). Fields: time, level, service, request_id, trace_id, message, plus
 * optional extra fields. The request/trace ids are thread-local, set by the HTTP and bus layers
 * for the duration of one request. Never pass secrets or personal data to the log. */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <jansson.h>
#include <stdio.h>

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

void log_init(int level, int json, const char *service);
/* Where lines go; NULL (the default) means stderr. For tests (capture to a tmpfile). */
void log_set_stream(FILE *f);
/* 1 if a message at `level` would be written (to skip building costly fields). */
int log_enabled(int level);
/* Thread-local request context; NULL clears a field. Values are copied. */
void log_set_context(const char *request_id, const char *trace_id);
void log_clear_context(void);
const char *log_request_id(void); /* "" when none */
const char *log_trace_id(void);
/* Names the calling thread "kind:name" (cut to the kernel's 15 characters), so that ps -L, top -H,
 * /proc/<pid>/task/<tid>/comm and perf's comm column tell a process's threads apart. */
void log_thread_name(const char *kind, const char *name);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, with extra fields merged into the JSON line (fields is borrowed, may be NULL). */
void log_fields(int level, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
