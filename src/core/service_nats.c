/* service_nats: the NATS subject permissions of a service user, derived from the registry
 * (svc_module_t.nats, see service.h) for `reciprocal nats-permissions` and scripts/pg.sh's
 * nats.conf. Owns nothing beyond one call: the line list is freed before returning. */
#include <stdlib.h>
#include <string.h>

#include "core/service.h"

/* The JetStream API of one stream a service reads and writes (its acks: as k_consumer_api's). */
static const char *const k_stream_api[] = {"$JS.API.STREAM.INFO.%s",
                                           "$JS.API.STREAM.CREATE.%s",
                                           "$JS.API.STREAM.UPDATE.%s",
                                           "$JS.API.STREAM.MSG.GET.%s",
                                           "$JS.API.DIRECT.GET.%s",
                                           "$JS.API.DIRECT.GET.%s.>",
                                           "$JS.API.CONSUMER.*.%s",
                                           "$JS.API.CONSUMER.*.%s.>",
                                           "$JS.API.CONSUMER.DURABLE.CREATE.%s.>",
                                           "$JS.API.CONSUMER.MSG.NEXT.%s.>",
                                           NULL};

typedef struct lines {
    char **v;
    size_t n, cap;
    int oom;
} lines_t;

static void add(lines_t *l, const char *kind, const char *fmt, const char *arg) {
    char subject[256], line[300];
    snprintf(subject, sizeof subject, fmt, arg);
    snprintf(line, sizeof line, "%s %s", kind, subject);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    char *dup = strdup(line);
    if (!dup) {
        l->oom = 1;
        return;
    }
    l->v[l->n++] = dup;
}

static void add_list(lines_t *l, const char *kind, const char *fmt, const char *const *list) {
    for (size_t i = 0; list && list[i]; i++)
        add(l, kind, fmt, list[i]);
}

/* The JetStream API one durable consumer of EVENTS needs (core/consumer.c through bus_js_fetch:
 * look it up, create it, pull from it), limited to that durable; %s = "<module>_<name>". Its
 * acks are no permission: a message's ack goes to the reply subject it was delivered with, which
 * nats-server's allow_responses (scripts/pg.sh) lets the connection publish to once. A publish
 * permission on `$JS.ACK.EVENTS.<durable>.>` never used those reply entries, so each delivered
 * message stayed two minutes in the connection's reply map, which nats-server walks whole at
 * every delivery past 4,096 entries (docs/architecture.md "Event consumers"). */
static const char *const k_consumer_api[] = {
    "$JS.API.CONSUMER.INFO.EVENTS.%s",     "$JS.API.CONSUMER.CREATE.EVENTS.%s",
    "$JS.API.CONSUMER.CREATE.EVENTS.%s.>", "$JS.API.CONSUMER.DURABLE.CREATE.EVENTS.%s",
    "$JS.API.CONSUMER.MSG.NEXT.EVENTS.%s", NULL};

/* One module's lines. */
static void add_module(lines_t *l, const svc_module_t *m) {
    add(l, "pub", "events.%s.>", m->name);
    add(l, "sub", "svc.%s.*", m->name);
    for (size_t i = 0; m->nats.calls && m->nats.calls[i]; i++) {
        const char *c = m->nats.calls[i];
        if (strcmp(c, "*") == 0)
            add(l, "pub", "svc.>", "");
        else
            add(l, "pub", strchr(c, '.') ? "svc.%s" : "svc.%s.*", c);
    }
    add_list(l, "pub", "%s", m->nats.publishes);
    add_list(l, "sub", "%s", m->nats.subscribes);
    if (m->nats.streams && m->nats.streams[0]) add(l, "pub", "$JS.API.STREAM.NAMES", "");
    for (size_t i = 0; m->consumers && i < m->n_consumers; i++) {
        char durable[128];
        snprintf(durable, sizeof durable, "%s_%s", m->name, m->consumers[i].name);
        for (size_t k = 0; k_consumer_api[k]; k++)
            add(l, "pub", k_consumer_api[k], durable);
    }
    for (size_t i = 0; m->nats.streams && m->nats.streams[i]; i++)
        for (size_t k = 0; k_stream_api[k]; k++)
            add(l, "pub", k_stream_api[k], m->nats.streams[i]);
}

/* The modules of user into l: "all" or names joined by "-". */
static int add_user(lines_t *l, const char *user, err_t *e) {
    if (strcmp(user, "all") == 0) {
        for (const svc_module_t *const *m = svc_registry; *m; m++)
            add_module(l, *m);
        return 0;
    }
    const char *p = user;
    while (*p) {
        size_t n = strcspn(p, "-");
        char name[64];
        if (n == 0 || n >= sizeof name) {
            err_invalid(e, "user", "bad NATS user \"%s\"", user);
            return -1;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        const svc_module_t *m = svc_find_module(name);
        if (!m) {
            err_invalid(e, "user", "no service \"%s\" (reciprocal services)", name);
            return -1;
        }
        add_module(l, m);
        p += n;
        if (*p == '-') p++;
    }
    return 0;
}

static int cmp_line(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int svc_nats_permissions(const char *user, FILE *out, err_t *e) {
    lines_t l = {0};
    int rc = -1;
    /* every service process ensures the EVENTS stream, relays its outbox to it and reads
     * replies on its own inbox (bus_connect_auth) */
    add(&l, "pub", "$JS.API.STREAM.INFO.EVENTS", "");
    add(&l, "pub", "$JS.API.STREAM.CREATE.EVENTS", "");
    add(&l, "pub", "$JS.API.STREAM.UPDATE.EVENTS", "");
    add(&l, "sub", "_INBOX.%s.>", user);
    if (add_user(&l, user, e) != 0) goto done;
    if (l.oom) {
        err_set(e, 500, "out_of_memory", "", "out of memory");
        goto done;
    }
    qsort(l.v, l.n, sizeof *l.v, cmp_line);
    for (size_t i = 0; i < l.n; i++)
        if (i == 0 || strcmp(l.v[i], l.v[i - 1]) != 0) fprintf(out, "%s\n", l.v[i]);
    rc = 0;
done:
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i]);
    free(l.v);
    return rc;
}

void svc_services_list(FILE *out) {
    for (const svc_module_t *const *m = svc_registry; *m; m++)
        fprintf(out, "%s\n", (*m)->name);
}
