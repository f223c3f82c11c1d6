/* sink: see sink.h. */
#include "support/sink.h"

#include <dirent.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"

#define SINK_MAX_ARGS 8

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int sink_start(sink_proc_t *p, const char *script, int port, const char *const *args) {
    const char *root = getenv("RECIPROCAL_TEST_ROOT");
    char path[512], portstr[16];
    const char *argv[SINK_MAX_ARGS + 4] = {"python3", path, portstr};
    size_t n = 3;
    for (size_t i = 0; args && args[i]; i++) {
        if (i == SINK_MAX_ARGS) {
            printf("#   sink_start %s: more than %d arguments\n", script, SINK_MAX_ARGS);
            return -1;
        }
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    p->pid = -1;
    p->port = port > 0 ? port : e2e_free_port();
    if (p->port <= 0) return -1;
    snprintf(path, sizeof path, "%s/%s", root ? root : ".", script);
    snprintf(portstr, sizeof portstr, "%d", p->port);
    fflush(stdout);
    p->pid = fork();
    if (p->pid == 0) {
        execv("/usr/bin/python3", (char *const *)argv);
        _exit(127);
    }
    if (p->pid < 0) return -1;
    for (int i = 0; i < 100; i++) {
        if (e2e_port_open(p->port)) return 0;
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) break; /* it died */
        sleep_ms(100);
    }
    printf("#   sink_start: %s did not answer on port %d\n", script, p->port);
    sink_stop(p);
    return -1;
}

void sink_stop(sink_proc_t *p) {
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
    }
    p->pid = -1;
}

int sink_mail_start(sink_mail_t *m, const char *tag, const char *cert, const char *key) {
    const char *tmp = getenv("RECIPROCAL_TEST_TMP");
    if (!tmp) {
        printf("#   sink_mail_start: RECIPROCAL_TEST_TMP is not set (run through tests/run.sh)\n");
        return -1;
    }
    mkdir(tmp, 0700);
    snprintf(m->maildir, sizeof m->maildir, "%s/%s-mail-%d", tmp, tag, (int)getpid());
    const char *args[] = {m->maildir, cert, key, NULL};
    if (!cert || !key) args[1] = NULL;
    if (sink_start(&m->proc, "tests/services/notification/smtp_server.py", 0, args) != 0) return -1;
    snprintf(m->url, sizeof m->url, "smtp://127.0.0.1:%d", m->proc.port);
    snprintf(m->env, sizeof m->env, "RECIPROCAL_SMTP_URL=%s", m->url);
    return 0;
}

void sink_mail_stop(sink_mail_t *m) {
    sink_stop(&m->proc);
}

int sink_mail_each(const sink_mail_t *m, size_t cap, int (*fn)(const char *text, void *ud),
                   void *ud) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/new", m->maildir);
    if (cap == 0) cap = 65536;
    DIR *d = opendir(dir);
    char *buf = malloc(cap);
    int n = 0;
    struct dirent *de;
    while (d && buf && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t got = fread(buf, 1, cap - 1, f);
        fclose(f);
        buf[got] = '\0';
        n++;
        if (fn(buf, ud)) break;
    }
    free(buf);
    if (d) closedir(d);
    return n;
}

typedef struct match {
    const char *needle, *also;
    char **last;
    int n;
} match_t;

static int on_match(const char *text, void *ud) {
    match_t *mt = ud;
    if ((mt->needle && !strstr(text, mt->needle)) || (mt->also && !strstr(text, mt->also)))
        return 0;
    mt->n++;
    if (mt->last) {
        free(*mt->last);
        *mt->last = strdup(text);
    }
    return 0;
}

int sink_mails_matching(const sink_mail_t *m, const char *needle, const char *also, char **last) {
    match_t mt = {needle, also, last, 0};
    sink_mail_each(m, 0, on_match, &mt);
    return mt.n;
}

int sink_mails_to(const sink_mail_t *m, const char *address, const char *also) {
    char needle[300];
    snprintf(needle, sizeof needle, "To: %s", address);
    return sink_mails_matching(m, needle, also, NULL);
}

void sink_mail_plain_part(const char *mail, char *out, size_t cap) {
    out[0] = '\0';
    const char *p = strstr(mail, "Content-Type: text/plain");
    p = p ? strstr(p, "\n\n") : NULL;
    if (!p) return;
    p += 2;
    char b64[8192];
    size_t n = 0, len = 0;
    while (*p && *p != '-' && n + 1 < sizeof b64) {
        if (*p != '\r' && *p != '\n') b64[n++] = *p;
        p++;
    }
    b64[n] = '\0';
    if (sodium_base642bin((unsigned char *)out, cap - 1, b64, n, NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) == 0)
        out[len] = '\0';
}
