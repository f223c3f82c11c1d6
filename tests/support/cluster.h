/* cluster: test support for tests that need their own 3-node nats-server JetStream cluster and
 * their own PostgreSQL database (test_ledger_cluster, test_ledger_faults). The nodes listen on
 * free loopback ports with store dirs under $RECIPROCAL_TEST_TMP, with authentication like every
 * nats-server of the project (docs/security.md N1): the users and subject permissions of
 * scripts/pg.sh rcp_nats_conf (their passwords generated into <dir>/secrets.env) and a route
 * user with a random password between the nodes. The scratch database is created by the
 * harness's superuser, owned by reciprocal_owner and migrated with $RECIPROCAL_TEST_BIN, so the
 * shared database's ledger (tied to the harness's NATS stream positions) is not involved. */
#ifndef TESTS_SUPPORT_CLUSTER_H
#define TESTS_SUPPORT_CLUSTER_H

#include <stddef.h>
#include <sys/types.h>

#define CLUSTER_NODES 3

typedef struct cluster {
    pid_t pid[CLUSTER_NODES];
    int stopped[CLUSTER_NODES]; /* SIGSTOPped (cluster_node_stop sends SIGCONT before ending) */
    int cport[CLUSTER_NODES], rport[CLUSTER_NODES];
    char dir[512];
    char urls[256]; /* "nats://127.0.0.1:P1,nats://127.0.0.1:P2,nats://127.0.0.1:P3" */
    char route_pw[33];
} cluster_t;

/* Writes the configuration for `users` (space-separated rcp_nats_conf users), starts the three
 * nodes and waits (10 s) until they listen. 0, or -1 printing why (the logs stay in c->dir). */
int cluster_start(cluster_t *c, const char *users);
/* (Re)starts node i with its store; 0 or -1. */
int cluster_node_start(cluster_t *c, int i);
/* Sends sig to node i; SIGKILL/SIGTERM also reap it (a paused node is continued first). */
void cluster_node_signal(cluster_t *c, int i, int sig);
/* The password of `user` from c->dir/secrets.env; 0 or -1. */
int cluster_password(const cluster_t *c, const char *user, char *out, size_t cap);
/* The node index of a server name "n1".."n3", or -1. */
int cluster_node_of(const char *name);
/* Ends every node (SIGTERM) and removes c->dir. */
void cluster_stop(cluster_t *c);

/* CREATE DATABASE <prefix>_<random> OWNER reciprocal_owner; the app and owner URLs of it (the
 * harness's URLs with the database replaced). 0 or -1. */
int scratch_db_create(const char *prefix, char *name, size_t name_cap, char *app_url,
                      char *owner_url, size_t url_cap);
/* `$RECIPROCAL_TEST_BIN migrate up` against it; 0 or -1. */
int scratch_db_migrate(const char *app_url, const char *owner_url, const char *nats_url);
/* DROP DATABASE ... WITH (FORCE) (name may be ""). */
void scratch_db_drop(const char *name);

#endif
