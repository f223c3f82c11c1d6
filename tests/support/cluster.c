/* cluster: see cluster.h. */
#include "support/cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
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

/* c->dir/auth.conf and secrets.env by scripts/pg.sh rcp_nats_conf (permissions from the binary
 * RECIPROCAL_TEST_BIN, `reciprocal nats-permissions`); a random route password */
static int write_auth(cluster_t *c, const char *users) {
    const char *root = getenv("RECIPROCAL_TEST_ROOT");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execl("/bin/bash", "bash", "-c",
              "RCP_BIN=${RECIPROCAL_TEST_BIN:-$1/build/reciprocal-san} && "
              "source \"$1/scripts/pg.sh\" && rcp_nats_conf \"$2/auth.conf\" "
              "\"$2/secrets.env\" $3",
              "bash", root && *root ? root : ".", c->dir, users, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    for (int i = 0; i < 16; i++)
        snprintf(c->route_pw + 2 * i, 3, "%02x", r[i]);
    return 0;
}

int cluster_password(const cluster_t *c, const char *user, char *out, size_t cap) {
    char path[600], line[512], var[128];
    size_t n = (size_t)snprintf(var, sizeof var, "RECIPROCAL_NATS_PASSWORD_");
    for (const char *p = user; *p && n + 2 < sizeof var; p++) {
        char ch = *p;
        if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
        var[n++] = ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) ? ch : '_';
    }
    var[n++] = '=';
    var[n] = '\0';
    snprintf(path, sizeof path, "%s/secrets.env", c->dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int found = -1;
    while (found != 0 && fgets(line, sizeof line, f))
        if (strncmp(line, var, n) == 0) {
            snprintf(out, cap, "%s", line + n);
            out[strcspn(out, "\r\n")] = 0;
            found = 0;
        }
    fclose(f);
    return found;
}

/* c->dir/n<i>.conf: the users of auth.conf and the cluster with route authentication */
static int write_node_conf(const cluster_t *c, int i, char *conf, size_t cap) {
    snprintf(conf, cap, "%s/n%d.conf", c->dir, i + 1);
    int fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return -1;
    }
    fprintf(f,
            "include \"auth.conf\"\ncluster {\n  name: \"rcl%d\"\n  listen: \"127.0.0.1:%d\"\n"
            "  authorization { user: \"route\", password: \"%s\" }\n  routes = [\n",
            (int)getpid(), c->rport[i], c->route_pw);
    for (int j = 0; j < CLUSTER_NODES; j++)
        if (j != i) fprintf(f, "    \"nats://route:%s@127.0.0.1:%d\"\n", c->route_pw, c->rport[j]);
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

int cluster_node_start(cluster_t *c, int i) {
    char store[600], log[600], name[16], p[16], conf[600];
    snprintf(store, sizeof store, "%s/n%d", c->dir, i + 1);
    snprintf(log, sizeof log, "%s/n%d.log", c->dir, i + 1);
    snprintf(name, sizeof name, "n%d", i + 1);
    snprintf(p, sizeof p, "%d", c->cport[i]);
    if (write_node_conf(c, i, conf, sizeof conf) != 0) return -1;
    mkdir(store, 0700);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        FILE *f = freopen(log, "a", stdout);
        (void)f;
        dup2(1, 2);
        execlp("nats-server", "nats-server", "-c", conf, "-js", "-sd", store, "-a", "127.0.0.1",
               "-p", p, "-n", name, (char *)NULL);
        _exit(127);
    }
    c->pid[i] = pid;
    c->stopped[i] = 0;
    return 0;
}

void cluster_node_signal(cluster_t *c, int i, int sig) {
    if (c->pid[i] <= 0) return;
    kill(c->pid[i], sig);
    if (sig == SIGSTOP) {
        c->stopped[i] = 1;
        return;
    }
    if (sig == SIGCONT) {
        c->stopped[i] = 0;
        return;
    }
    if (c->stopped[i]) kill(c->pid[i], SIGCONT);
    waitpid(c->pid[i], NULL, 0);
    c->pid[i] = 0;
    c->stopped[i] = 0;
}

int cluster_node_of(const char *name) {
    return name[0] == 'n' && name[1] >= '1' && name[1] <= '0' + CLUSTER_NODES && !name[2]
               ? name[1] - '1'
               : -1;
}

int cluster_start(cluster_t *c, const char *users) {
    memset(c, 0, sizeof *c);
    const char *tmp = getenv("RECIPROCAL_TEST_TMP");
    snprintf(c->dir, sizeof c->dir, "%s/nats-cluster-%d", tmp ? tmp : "/tmp", (int)getpid());
    mkdir(tmp ? tmp : "/tmp", 0700);
    if (mkdir(c->dir, 0700) != 0 && errno != EEXIST) return -1;
    size_t k = 0;
    for (int i = 0; i < CLUSTER_NODES; i++) {
        c->cport[i] = e2e_free_port();
        c->rport[i] = e2e_free_port();
        if (c->cport[i] <= 0 || c->rport[i] <= 0) return -1;
        k += (size_t)snprintf(c->urls + k, sizeof c->urls - k, "%snats://127.0.0.1:%d",
                              i ? "," : "", c->cport[i]);
    }
    if (write_auth(c, users) != 0) {
        printf("# scripts/pg.sh rcp_nats_conf failed (in %s)\n", c->dir);
        return -1;
    }
    for (int i = 0; i < CLUSTER_NODES; i++)
        if (cluster_node_start(c, i) != 0) return -1;
    int up = 0;
    for (int t = 0; t < 100 && up < CLUSTER_NODES; t++) {
        up = 0;
        for (int i = 0; i < CLUSTER_NODES; i++)
            up += e2e_port_open(c->cport[i]);
        if (up < CLUSTER_NODES) usleep(100000);
    }
    if (up < CLUSTER_NODES)
        printf("# only %d of %d nats-servers listen (logs in %s)\n", up, CLUSTER_NODES, c->dir);
    return up == CLUSTER_NODES ? 0 : -1;
}

void cluster_stop(cluster_t *c) {
    for (int i = 0; i < CLUSTER_NODES; i++)
        cluster_node_signal(c, i, SIGTERM);
    if (c->dir[0]) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
        if (system(cmd) != 0) printf("# could not remove %s\n", c->dir);
        c->dir[0] = 0;
    }
}

/* ---- scratch database ------------------------------------------------------------------- */

static int super_exec(const char *sql) {
    PGconn *c = PQconnectdb(getenv("RECIPROCAL_TEST_SUPER_URL"));
    int ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) printf("#   %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    } else {
        printf("#   superuser connection failed: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return ok ? 0 : -1;
}

/* a postgresql:// URI with the database (its path) replaced */
static int url_with_db(const char *uri, const char *db, char *out, size_t n) {
    const char *host = uri ? strstr(uri, "://") : NULL;
    const char *slash = host ? strchr(host + 3, '/') : NULL;
    if (!slash) return -1;
    const char *q = strchr(slash, '?');
    int len = snprintf(out, n, "%.*s/%s%s", (int)(slash - uri), uri, db, q ? q : "");
    return len > 0 && (size_t)len < n ? 0 : -1;
}

int scratch_db_create(const char *prefix, char *name, size_t name_cap, char *app_url,
                      char *owner_url, size_t url_cap) {
    unsigned rnd = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    snprintf(name, name_cap, "%s_%08x", prefix, rnd);
    char sql[200];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s OWNER reciprocal_owner", name);
    if (super_exec(sql) != 0) {
        name[0] = 0;
        return -1;
    }
    if (url_with_db(getenv("RECIPROCAL_TEST_OWNER_URL"), name, owner_url, url_cap) != 0 ||
        url_with_db(getenv("RECIPROCAL_TEST_DATABASE_URL"), name, app_url, url_cap) != 0)
        return -1;
    return 0;
}

int scratch_db_migrate(const char *app_url, const char *owner_url, const char *nats_url) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        setenv("RECIPROCAL_MIGRATE_DATABASE_URL", owner_url, 1);
        setenv("RECIPROCAL_DATABASE_URL", app_url, 1);
        setenv("RECIPROCAL_NATS_URL", nats_url, 1);
        if (!freopen("/dev/null", "w", stdout)) _exit(126);
        const char *bin = getenv("RECIPROCAL_TEST_BIN");
        execl(bin, bin, "migrate", "up", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

void scratch_db_drop(const char *name) {
    if (!name || !name[0]) return;
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    super_exec(sql);
}
