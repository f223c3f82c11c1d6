/* service: the operation-table pattern every service module follows, and the two transports
 * that serve a table without per-operation plumbing.
 *
 * A service module (src/services/<name>/) declares ONE svc_module_t: its name, the PostgreSQL
 * schema it owns, and a table of svc_op_t (name, REST method + route + success status, access
 * rule (+ permission), input validation, handler, REST body extras). From that declaration:
 *   - the gateway serves each operation on its REST route (src/gateway/gateway.c), and
 *   - svc_serve_bus() answers NATS request/reply on "svc.<service>.<operation>" in queue group
 *     "svc.<service>", so a gateway in another process reaches it (svc_call_remote()); the
 *     caller travels in an envelope signed with RECIPROCAL_BUS_KEY, verified before dispatch.
 * svc_dispatch() is the single entry point both use: authorise -> validate -> handle.
 * Owns nothing global; svc_env_t is owned by main (serve). */
#ifndef CORE_SERVICE_H
#define CORE_SERVICE_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "core/bus.h"
#include "core/config.h"
#include "core/db.h"
#include "core/err.h"
#include "core/outbox.h"

struct svc_module;
struct gql_resolvers; /* lib/graphql/gql_exec.h */

/* Every module's settings (svc_module_t.config), filled once by svc_settings_load: one struct
 * per module, placed in `area` (a plain value: copy it to change a setting in a test). */
#define SVC_MAX_MODULES 32
#define SVC_SETTINGS_BYTES 8192
typedef struct svc_settings {
    size_t at[SVC_MAX_MODULES]; /* offset in area of the i-th registry module's struct */
    _Alignas(max_align_t) unsigned char area[SVC_SETTINGS_BYTES];
} svc_settings_t;

/* Shared process resources handed to handlers. */
typedef struct svc_env {
    const cfg_t *cfg; /* core variables */
    db_pool_t *db;
    bus_t *bus;
    const svc_settings_t *settings; /* the modules' variables; NULL = every default */
} svc_env_t;

/* Who is calling and from where. Carried across NATS unchanged, inside an envelope signed with
 * RECIPROCAL_BUS_KEY (svc_envelope_seal/open): a process that merely reaches nats-server cannot
 * make a service believe another caller. */
typedef struct svc_caller {
    char user_id[40];  /* "" = anonymous */
    char club_id[40];  /* tenant the caller acts for, "" = none */
    int network_admin; /* network-wide administrator */
    char perms[512];   /* space-separated permissions, "*" = all */
    char request_id[72];
    char trace_id[40];
    char ip[64];
    char user_agent[256];
    char session_id[40]; /* the sign-in session of the access token (`sid`), "" = none */
} svc_caller_t;

typedef struct svc_call {
    const svc_env_t *env;
    const struct svc_module *module;
    const struct svc_op *op;
    const svc_caller_t *caller;
} svc_call_t;

/* validate: checks (and may normalise) the input in place; no I/O. Returns 0 or -1 + err.
 * handle: does the work; on success *output is a new reference (object or array) sent as the
 * body with op->status. Returns 0 or -1 + err. */
typedef int (*svc_validate_fn)(json_t *input, err_t *e);
typedef int (*svc_handle_fn)(const svc_call_t *call, json_t *input, json_t **output, err_t *e);

/* Who may call an operation: exactly one rule per row (.access), enforced by svc_dispatch before
 * the input is validated and before the handler runs (authorise -> validate -> handle: a caller
 * who may not call learns nothing about the input's validity). There is no default: a row
 * without a rule (0) makes svc_check_module fail, and `reciprocal serve` refuses to start.
 *   SVC_PUBLIC        anyone, anonymous included: obtaining or giving up credentials (login,
 *                     refresh, logout, register, password reset, email verification), public
 *                     keys (JWKS, a club's card key), running a registered GraphQL document. The
 *                     gateway runs it anonymously when the bearer token is invalid. No .permission.
 *   SVC_SIGNED_IN     any signed-in caller, acting on its own record only (GET /members/me, its
 *                     own data export): anonymous -> 401 unauthenticated. No .permission.
 *   SVC_PERM          the caller holds .permission: anonymous -> 401 unauthenticated, a signed-in
 *                     caller without it -> 403 forbidden.
 *   SVC_PERM_OR_SELF  staff holding .permission, or the signed-in member the record belongs to:
 *                     anonymous -> 401 unauthenticated here; the handler keeps the one check
 *                     dispatch cannot make (is this record the caller's own?) and answers a
 *                     member probing another record 404 not_found (403 forbidden for staff
 *                     lacking a write permission), like a caller of another club, whose club
 *                     scope finds no such record.
 *   SVC_NETWORK_ADMIN a network administrator: anonymous -> 401, anyone else -> 403 forbidden.
 *                     No .permission.
 *   SVC_INTERNAL      service-to-service only: no REST route, no GraphQL field; reached in-process
 *                     or over NATS in an envelope signed with RECIPROCAL_BUS_KEY, i.e. only by a
 *                     process of the deployment (e.g. a gateway fetching revocations). No caller
 *                     check. No .permission. */
typedef enum svc_access {
    SVC_ACCESS_UNSET = 0, /* invalid: every row names its rule */
    SVC_PUBLIC,
    SVC_SIGNED_IN,
    SVC_PERM,
    SVC_PERM_OR_SELF,
    SVC_NETWORK_ADMIN,
    SVC_INTERNAL,
} svc_access_t;

/* One operation. Tables use designated initialisers: {.name = ..., .access = ..., ...}. */
typedef struct svc_op {
    const char *name;       /* operation name, [a-z_]+: subject svc.<service>.<name> */
    const char *method;     /* REST method; NULL with route = NULL: no REST route */
    const char *route;      /* REST route template, e.g. "/api/v1/clubs/{id}" */
    int status;             /* success status, e.g. 201 */
    svc_access_t access;    /* who may call (above) */
    const char *permission; /* SVC_PERM / SVC_PERM_OR_SELF: e.g. "club:write"; else NULL */
    svc_validate_fn validate;
    svc_handle_fn handle;
    /* REST extras, for the gateway only (NATS carries JSON input as always): */
    const char *body_type;    /* a non-JSON request body also accepted, e.g. "text/csv": the raw
                                 body becomes the string input field body_field; NULL = JSON only */
    const char *body_field;   /* e.g. "csv" */
    size_t max_body;          /* body limit of this route when larger than
                                 RECIPROCAL_HTTP_MAX_BODY_BYTES; 0 = the global limit */
    const char *accept_field; /* e.g. "format": an Accept of text/csv or application/pdf sets
                                 this input field to "csv" / "pdf" unless the query names it;
                                 NULL = the Accept header is not read */
    const char *header;       /* a request header whose value becomes the string input field
                                 header_field (absent header: the field is removed), e.g. a
                                 provider callback's "X-Twilio-Signature"; NULL = none */
    const char *header_field; /* e.g. "signature" */
} svc_op_t;

/* A module's own RECIPROCAL_* variables (nginx-style directives, core/config cfg_var_t rows):
 * they fill the module's settings struct of `size` bytes (CFG_FIELD(type, member) in each row),
 * are listed by `reciprocal config` and read through svc_settings(env, module). */
typedef struct svc_config {
    const cfg_var_t *vars;
    size_t n_vars;
    size_t size; /* sizeof the settings struct; 0 = the module has no variables */
} svc_config_t;

/* A module's command line, `reciprocal <name> ...`: main(env, argc, argv) gets the arguments
 * after the service name and an env with cfg and settings (db and bus NULL: the command opens
 * what it needs) and returns the exit status (0, 1 failure, 2 usage). usage: its lines of
 * `reciprocal help`, each "  <name> <args>   <what>\n". */
typedef struct svc_cli {
    const char *usage;
    int (*main)(const svc_env_t *env, int argc, char **argv);
} svc_cli_t;

/* What the NATS user of a service may do besides the rules every service gets (answer its own
 * svc.<name>.* in queue group svc.<name>, reply to what it received, publish its own events
 * events.<name>.>, use the EVENTS stream, read replies on _INBOX.<user>.>): docs/security.md N1.
 * `reciprocal nats-permissions USER` prints them and scripts/pg.sh writes nats.conf from them.
 * Each list is NULL-terminated; NULL = nothing. Write them as compound literals:
 * .nats = {.calls = (const char *const[]){"member", NULL}}. */
typedef struct svc_nats {
    const char *const *calls;      /* operations it calls: "member" (svc.member.*), one op
                                      "member.resolve_club" (svc.member.resolve_club), "*" (svc.>) */
    const char *const *publishes;  /* other subjects it publishes: event prefixes of other
                                      sources ("events.club.>"), core subjects ("auth.revoked") */
    const char *const *subscribes; /* core subjects it subscribes to ("auth.revoked") */
    const char *const *streams;    /* JetStream streams it uses besides EVENTS ("LEDGER_TX"): their
                                      stream, consumer, direct-get and ack API */
} svc_nats_t;

/* A durable JetStream consumer of the EVENTS stream declared by a module (svc_module_t
 * .consumers): core runs it (core/consumer.h) wherever the module runs. Each event is applied in
 * ONE transaction that first claims its id in <schema>.inbox (inbox_claim, consumer = the
 * durable name "<module>_<name>"), so a redelivered or replayed event is applied once; the
 * message is acked after the commit. The handler gets that transaction (scope: the event's
 * tenant as club, no user, relay on: a consumer is a system process like the relay) and a call
 * whose caller is the service itself (no user, club = the tenant, request id = the event's
 * correlation id) for svc_call to other services. It returns 0 (applied; also for an event it
 * ignores) or -1 + err: 503/504 (a dependency is down) is retried without limit, with backoff; any
 * other error is a failed try, counted in <schema>.dead_letter, and after max_tries the event is
 * dead-lettered there (and claimed, so it is never applied later), metric
 * consumer_dead_letter_total{consumer}. */
typedef struct svc_event {
    const char *id;             /* envelope id (uuid) */
    const char *type;           /* "visit.approved" */
    const char *subject;        /* "events.visit.approved" */
    const char *tenant_id;      /* club uuid, or NULL */
    const char *correlation_id; /* metadata.correlation_id, or "" */
    json_t *data;               /* borrowed: the envelope's "data" object */
    json_t *envelope;           /* borrowed: the whole event */
    int tries;                  /* failed tries before this one (0 on the first) */
    void *acc; /* borrowed: the transaction's accumulator the handler may add to for the
                  consumer's flush (below); shared by every event of a batch. A JSON array
                  (json_t *), or the consumer's own type when it declares acc_new */
} svc_event_t;

typedef int (*svc_consume_fn)(const svc_call_t *call, db_tx_t *tx, const svc_event_t *ev, err_t *e);
/* Batch hook: called once per transaction after the handler of its last event, before the
 * commit, with the accumulator the handlers filled (call: the service itself, no club). */
typedef int (*svc_consume_flush_fn)(const svc_call_t *call, db_tx_t *tx, void *acc, err_t *e);

typedef struct svc_consumer {
    const char *name;   /* [a-z_]+, unique in the module: durable "<module>_<name>" */
    const char *filter; /* subject filter on EVENTS, "events." prefixed: "events.visit.>" */
    svc_consume_fn handle;
    int max_tries; /* failed tries before the dead-letter table; 0 = SVC_CONSUMER_MAX_TRIES */
    /* Batching (core/consumer.h): up to `batch` fetched events are applied in ONE transaction
     * (0 = SVC_CONSUMER_BATCH, 1 = one event per transaction); flush (may be NULL) applies what
     * the handlers accumulated, once per transaction. */
    svc_consume_flush_fn flush;
    int batch;
    /* The accumulator's type (both or neither): acc_new makes an empty one per transaction (NULL
     * when out of memory), acc_free frees it after the flush or after a failed handler. NULL
     * (default): a JSON array. A module whose flush writes text (analytics: the facts as the
     * JSON text of analytics.ingest) keeps its own buffer instead of a jansson tree per event. */
    void *(*acc_new)(void);
    void (*acc_free)(void *acc);
    /* Idempotent by its own store (a key on the event id in the module's tables makes applying
     * an event twice a no-op for as long as the stream can deliver it again): NULL (default),
     * every event of a batch is claimed in the inbox first; else only the events for which
     * inbox_needed returns 1 (e.g. those the store may no longer hold when the stream delivers
     * them again), the others go to the handler unclaimed: no inbox row written or read for
     * them. Applied one by one (a failed batch), every event is claimed as before.
     * docs/architecture.md "Consumers: the inbox, or the module's own key". */
    int (*inbox_needed)(const svc_env_t *env, const svc_event_t *ev);
    /* 1: the handlers and the flush touch only tables of the relay scope (the module's own,
     * policies on core.is_relay()), so a batch's transaction is not re-scoped to each event's
     * tenant (no set_config round trip per change of tenant); 0 (default): it is. */
    int relay_only;
    /* Lingering (a consumer whose events need not be applied at once): after the first event of
     * a fetch, keep gathering until the fetch holds a full batch or linger_ms have passed since
     * that first event, so that a trickle of events shares one transaction (its fixed cost: the
     * transaction, the inbox claim, the flush's statements) instead of each fetch taking the
     * handful that is there. A full batch is not delayed; an event waits at most linger_ms more;
     * a stop waits at most linger_ms more. 0 (default): a fetch takes what is there at once. */
    int linger_ms;
} svc_consumer_t;
#define SVC_CONSUMER_MAX_TRIES 5
#define SVC_CONSUMER_BATCH 256

typedef struct svc_module {
    const char *name;   /* "member" */
    const char *schema; /* PostgreSQL schema it owns; its outbox is <schema>.outbox */
    const svc_op_t *ops;
    size_t n_ops;
    /* Optional lifecycle hooks, called by `reciprocal serve` for enabled services only:
     * start after the responders are up (background work: threads, consumers; 0 or -1 + err,
     * which aborts startup), stop at shutdown before the outbox relay, the bus and the
     * database pool close (must join what start began). NULL = none. */
    int (*start)(const svc_env_t *env, err_t *e);
    void (*stop)(void);
    svc_config_t config; /* its RECIPROCAL_* variables; {0} = none */
    svc_cli_t cli;       /* `reciprocal <name> ...`; {0} = none */
    /* Its part of the demo network (`reciprocal seed`, `make run`), run in registry order with
     * env->db open (one connection) and no bus: idempotent (what exists is kept), prints what it
     * did, 0 or -1 + err. NULL = none. */
    int (*seed)(const svc_env_t *env, err_t *e);
    /* Its GraphQL part: the SDL fragment src/services/<name>/<name>.graphql (the build assembles
     * docs/schema.graphql from the core part and every fragment) and this hook, which binds the
     * fields the fragment declares to operations (gql_resolvers_add; the graphql_api resolver
     * helpers in gateway/graphql_bind.h): 0, or -1 when the schema lacks a type or field.
     * NULL = none. */
    int (*graphql)(struct gql_resolvers *rs);
    svc_nats_t nats; /* its NATS permissions beyond its own subjects; {0} = none */
    /* Its event consumers (above), run by `reciprocal serve` where the module runs; their
     * JetStream permissions are added to the module's NATS user. Its migration must call
     * core.create_dead_letter('<schema>'). NULL/0 = none. */
    const svc_consumer_t *consumers;
    size_t n_consumers;
} svc_module_t;

/* Every service module linked into the binary (src/services/registry.c), NULL-terminated. */
extern const svc_module_t *const svc_registry[];
const svc_module_t *svc_find_module(const char *name);
const svc_op_t *svc_find_op(const svc_module_t *m, const char *op_name);
/* The name of an access rule ("public", "perm_or_self", ...; "unset" for 0). */
const char *svc_access_name(svc_access_t access);
/* Checks every row of m: a name, one valid access rule with .permission given exactly for
 * SVC_PERM / SVC_PERM_OR_SELF, method and route both set or both NULL, no route for
 * SVC_INTERNAL, a handler. 0, or -1 + 500 invalid_operation_table naming the first bad row.
 * svc_check_registry runs it over svc_registry (at `reciprocal serve` startup). */
int svc_check_module(const svc_module_t *m, err_t *e);
int svc_check_registry(err_t *e);

/* `reciprocal nats-permissions USER`: the subject permissions of NATS user USER ("all" = every
 * registry module, else module names joined by "-", e.g. "member-auth"), one "pub SUBJECT" or
 * "sub SUBJECT" line each, sorted, no duplicates. 0, or -1 + 422 invalid_field for a name that
 * is not a registry module. */
int svc_nats_permissions(const char *user, FILE *out, err_t *e);
/* `reciprocal services`: the registry's module names, one per line, in registry order. */
void svc_services_list(FILE *out);

/* Module settings. svc_settings_load fills *s (zeroed first) from every registry module's
 * config table (defaults, then the environment; get == NULL means getenv): 0, or -1 + 500
 * invalid_config naming the variable, as cfg_load. */
int svc_settings_load(svc_settings_t *s, cfg_getenv_fn get, err_t *e);
/* The module's settings struct (cast it to the module's type; the module offers a typed
 * accessor, e.g. auth_settings(env)): env->settings, or when env or env->settings is NULL the
 * defaults (loaded once, no environment). NULL when m is not in the registry or has no table. */
const void *svc_settings(const svc_env_t *env, const struct svc_module *m);
/* The same, writable, in a settings value the caller owns (tests change one setting). */
void *svc_settings_edit(svc_settings_t *s, const struct svc_module *m);
/* Every CFG_REQUIRED variable of every module enabled in cfg (serve): 0, or -1 + 500
 * invalid_config naming the first missing one. */
int svc_settings_require(const svc_settings_t *s, const cfg_t *cfg, err_t *e);
/* `reciprocal config`: the core variables, then each module's under a heading. */
void svc_config_describe(FILE *out);

/* authorise (op->access, svc_access_check) -> validate -> handle, logging failures with 5xx
 * status. *status gets the HTTP status (op->status on success). A handler may answer
 * pass-through documents (core/json.h jsonx_raw, db_json_raw): svc_dispatch hands its caller
 * the output with them parsed (jsonx_materialize), so every caller reads fields as usual. */
int svc_dispatch(const svc_env_t *env, const svc_module_t *m, const svc_op_t *op,
                 const svc_caller_t *caller, json_t *input, int *status, json_t **output, err_t *e);
/* The same, leaving pass-through documents unparsed: for callers that only serialise the
 * output with jsonx_dump (the gateway's REST answer through svc_invoke_raw, the bus responder),
 * which splices their text. */
int svc_dispatch_raw(const svc_env_t *env, const svc_module_t *m, const svc_op_t *op,
                     const svc_caller_t *caller, json_t *input, int *status, json_t **output,
                     err_t *e);

/* 1 if caller holds permission (NULL permission = public). */
int svc_authorized(const svc_caller_t *caller, const char *permission);
/* The part of op->access dispatch enforces for caller: 0, or -1 + 401 unauthenticated / 403
 * forbidden (500 for a row without a valid rule). */
int svc_access_check(const svc_op_t *op, const svc_caller_t *caller, err_t *e);

/* The caller's database scope: its user and network-admin flag, in club club_id (NULL = the
 * caller's club). Points into call->caller and club_id. */
db_scope_t svc_scope(const svc_call_t *call, const char *club_id);
/* Begin a transaction scoped to the caller (club, user, network admin). */
int svc_begin(const svc_call_t *call, db_tx_t **tx, err_t *e);
/* Begin a transaction in one club's scope (club_id; "" or NULL = none) acting as the caller's
 * user, without the network-admin flag: for a service that resolves the club itself (auth:
 * from a token, a slug or the request). End it with db_tx_commit / db_tx_finish (core/db.h). */
int svc_begin_in(const svc_call_t *call, const char *club_id, db_tx_t **tx, err_t *e);
/* A deferred transaction (core/db.h db_begin_deferred: BEGIN and the scope go with the first
 * statement): club_id NULL as svc_begin, else as svc_begin_in. */
int svc_begin_deferred(const svc_call_t *call, const char *club_id, db_tx_t **tx, err_t *e);

/* Writes one domain event into <module schema>.outbox inside tx (source = the module's name),
 * with the envelope metadata taken from the caller in one place: correlation_id = request id,
 * user_id, ip_address, user_agent ("" = null); causation_id null. tenant_id: the club the event
 * belongs to, or NULL. data is consumed (decref'd), also on failure. 0 or -1 + err. */
int svc_emit(const svc_call_t *call, db_tx_t *tx, const char *type, const char *tenant_id,
             json_t *data, err_t *e);
/* The same event queued in a pipeline batch (core/db.h db_batch_*), to go in the same flight as
 * the change; written when the batch runs. data is consumed. 0 or -1 + err. */
int svc_emit_batch(const svc_call_t *call, db_batch_t *b, const char *type, const char *tenant_id,
                   json_t *data, err_t *e);

/* The same event as the values of an outbox row for a statement the handler writes (a CTE
 * beside the change: core/outbox.h outbox_row_make; parameters from $first). data is consumed;
 * outbox_row_free the row after the statement ran. 0 or -1 + err. */
int svc_event_row(const svc_call_t *call, outbox_row_t *row, int first, const char *type,
                  const char *tenant_id, json_t *data, err_t *e);

/* n events of one type and tenant in ONE outbox statement (outbox_add_many), the same envelopes
 * as n svc_emit calls; data[i] borrowed (not consumed). 0 or -1 + err. */
int svc_emit_many(const svc_call_t *call, db_tx_t *tx, const char *type, const char *tenant_id,
                  json_t *const *data, size_t n, err_t *e);

/* Non-JSON responses (CSV export, data downloads). A handler returns
 * svc_raw_output(content_type, filename, body) = {"$raw":{"content_type","filename","body"}};
 * the gateway sends `body` unchanged with that Content-Type and, when filename is given,
 * Content-Disposition: attachment. Over NATS it travels as ordinary JSON. content_type must be
 * one of: "text/csv; charset=utf-8", "application/json; charset=utf-8", "image/svg+xml",
 * "application/pdf" (an ASCII-only PDF: body is a C string). */
json_t *svc_raw_output(const char *content_type, const char *filename, const char *body);
/* 1 when output is a raw response: *content_type is the static string from the list above,
 * *filename (may be NULL) and *body are borrowed from output. 0 otherwise. */
int svc_raw_parts(const json_t *output, const char **content_type, const char **filename,
                  const char **body);

/* NATS transport. svc_serve_bus starts `workers` responders for module m. svc_call_remote sends
 * one operation to whichever process serves it and returns exactly what svc_dispatch returned
 * there (status, output or error). */
int svc_serve_bus(const svc_env_t *env, const svc_module_t *m, int workers, err_t *e);
int svc_call_remote(const svc_env_t *env, const svc_module_t *m, const svc_op_t *op,
                    const svc_caller_t *caller, json_t *input, int *status, json_t **output,
                    err_t *e);

/* One operation through the normal transport: svc_dispatch when its service runs in this
 * process (cfg_service_enabled), else svc_call_remote over NATS. Used by the gateway. */
int svc_invoke(const svc_env_t *env, const svc_module_t *m, const svc_op_t *op,
               const svc_caller_t *caller, json_t *input, int *status, json_t **output, err_t *e);
/* svc_invoke through svc_dispatch_raw: the output may hold pass-through documents; only for a
 * caller that serialises it with jsonx_dump (the gateway's REST answer). */
int svc_invoke_raw(const svc_env_t *env, const svc_module_t *m, const svc_op_t *op,
                   const svc_caller_t *caller, json_t *input, int *status, json_t **output,
                   err_t *e);

/* One operation of another service by name, through the normal transport: svc_dispatch when
 * that service runs in this process (cfg_service_enabled), else svc_call_remote over NATS.
 * Same contract as svc_dispatch; 500 unknown_operation when the module or op does not exist.
 * For service-to-service calls (member -> auth invite) and the GraphQL resolvers. */
int svc_call(const svc_env_t *env, const char *module_name, const char *op_name,
             const svc_caller_t *caller, json_t *input, int *status, json_t **output, err_t *e);

/* Envelope codec (exposed for tests). */
json_t *svc_caller_to_json(const svc_caller_t *c);
int svc_caller_from_json(json_t *j, svc_caller_t *c, err_t *e);

/* The signed envelope of a call over NATS (docs/security.md N2): services do not take the
 * caller's word. seal returns a malloc'd message (*len bytes) carrying {caller, input} and an
 * HMAC-SHA256 under key (RECIPROCAL_BUS_KEY) over the subject, the expiry (30 s) and the JSON.
 * open verifies it in constant time and that it has not expired, then decodes: *envelope (the
 * caller frees it) holds "input"; -1 + 401 invalid_assertion for an unsigned, forged, altered,
 * re-targeted (other subject) or expired message. svc_serve_bus refuses to start and
 * svc_call_remote fails without RECIPROCAL_BUS_KEY. */
char *svc_envelope_seal(const unsigned char key[32], const char *subject,
                        const svc_caller_t *caller, json_t *input, size_t *len, err_t *e);
int svc_envelope_open(const unsigned char key[32], const char *subject, const char *data,
                      size_t len, svc_caller_t *caller, json_t **envelope, err_t *e);

#endif
