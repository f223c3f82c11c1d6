/* analytics: its operation table, settings, consumers and retention job (see analytics.h). */
#include "services/analytics/analytics.h"

#include "core/periodic.h"
#include "services/analytics/charts.h"
#include "services/analytics/graphql_analytics.h"
#include "services/analytics/ingest.h"
#include "services/analytics/reports.h"

static const svc_op_t analytics_ops[] = {
    {.name = "club_report",
     .method = "GET",
     .route = "/api/v1/analytics/clubs/{id}/report",
     .status = 200,
     .access = SVC_PERM,
     .permission = "member:read",
     .validate = analytics_validate_report,
     .handle = analytics_club_report,
     .accept_field = "format"},
    {.name = "club_chart",
     .method = "GET",
     .route = "/api/v1/analytics/clubs/{id}/chart",
     .status = 200,
     .access = SVC_PERM,
     .permission = "member:read",
     .validate = analytics_validate_chart,
     .handle = analytics_club_chart},
    {.name = "network_report",
     .method = "GET",
     .route = "/api/v1/analytics/network/report",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = analytics_validate_network,
     .handle = analytics_network_report,
     .accept_field = "format"},
    {.name = "rebuild",
     .method = "POST",
     .route = "/api/v1/analytics/rebuild",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = analytics_validate_none,
     .handle = analytics_rebuild},
    {.name = "retention",
     .method = "POST",
     .route = "/api/v1/analytics/retention",
     .status = 200,
     .access = SVC_NETWORK_ADMIN,
     .validate = analytics_validate_none,
     .handle = analytics_retention},
    /* room utilisation (capacity configured by the club) */
    {.name = "set_capacity",
     .method = "PUT",
     .route = "/api/v1/analytics/clubs/{id}/capacity",
     .status = 200,
     .access = SVC_PERM,
     .permission = "club:write",
     .validate = analytics_validate_capacity,
     .handle = analytics_set_capacity},
};

/* How long a fetch of an analytics consumer keeps gathering events after its first one
 * (svc_consumer_t.linger_ms): analytics is not latency-sensitive, and a batch's fixed cost
 * (transaction, inbox claim, analytics_flush's statements and their plans) shared by more
 * events is the CPU per event (docs/analytics.md "Lingering consumers"). */
#define ANALYTICS_LINGER_MS 200

/* One consumer per concern; every one turns the event into facts written as text (ingest.c:
 * its own accumulator) and claims in the inbox only the events the raw store may no longer
 * hold when the stream delivers them again (analytics_inbox_needed). */
#define ANALYTICS_CONSUMER(n, f)                                                                   \
    {                                                                                              \
        .name = n, .filter = f, .handle = analytics_on_event, .flush = analytics_flush,            \
        .acc_new = analytics_batch_new, .acc_free = analytics_batch_free,                          \
        .inbox_needed = analytics_inbox_needed, .relay_only = 1, .linger_ms = ANALYTICS_LINGER_MS  \
    }
static const svc_consumer_t analytics_consumers[] = {
    ANALYTICS_CONSUMER("visits", "events.visit.>"),
    ANALYTICS_CONSUMER("lois", "events.loi.>"),
    ANALYTICS_CONSUMER("charges", "events.charge.>"),
    ANALYTICS_CONSUMER("statements", "events.statement.>"),
    ANALYTICS_CONSUMER("agreements", "events.agreement.>"),
    ANALYTICS_CONSUMER("clubs", "events.club.>"),
    ANALYTICS_CONSUMER("members", "events.member.>"),
    ANALYTICS_CONSUMER("auth", "events.auth.user_logged_in"),
};

#define F(m) CFG_FIELD(analytics_settings_t, m)
/* clang-format off */
static const cfg_var_t analytics_vars[] = {
    {"RECIPROCAL_ANALYTICS_KEY", CFG_KEY, F(key), 0, 0, "",
     "Secret of the analytics member keys (HMAC-SHA-256 per club; 32 random bytes in base64). "
     "Unset: a subkey of RECIPROCAL_BUS_KEY. Changing it changes every key (unique-visitor "
     "counts across the change are not comparable).", 0},
    {"RECIPROCAL_ANALYTICS_RETENTION_DAYS", CFG_INT, F(retention_days), 400, 3660, "400",
     "Raw analytics events are kept this long (month partitions dropped after); the daily "
     "rollups are kept forever.", 0},
    {"RECIPROCAL_ANALYTICS_K", CFG_INT, F(k), 5, 1000, "11",
     "Network reports suppress counts of 1..k-1 (shown as <k) with complementary suppression; "
     "never below 5.", 0},
    {"RECIPROCAL_ANALYTICS_RETENTION_PERIOD_SECONDS", CFG_INT, F(retention_period_s), 60, 604800,
     "86400", "How often the analytics retention job runs.", 0},
};
/* clang-format on */
#undef F

static periodic_t g_retention = PERIODIC_INIT("analytics.retention", analytics_retention_run, NULL);

static int analytics_start(const svc_env_t *env, err_t *e) {
    return periodic_start(&g_retention, env, analytics_settings(env)->retention_period_s, e);
}

static void analytics_stop(void) {
    periodic_stop(&g_retention);
}

const svc_module_t analytics_module = {
    .name = "analytics",
    .schema = "analytics",
    .ops = analytics_ops,
    .n_ops = sizeof analytics_ops / sizeof analytics_ops[0],
    .start = analytics_start,
    .stop = analytics_stop,
    .config = {analytics_vars, sizeof analytics_vars / sizeof analytics_vars[0],
               sizeof(analytics_settings_t)},
    .graphql = gql_analytics_bind,
    .consumers = analytics_consumers,
    .n_consumers = sizeof analytics_consumers / sizeof analytics_consumers[0],
    /* visit dates and club time zones the events lack; partner names and the directory */
    .nats = {.calls = (const char *const[]){"reciprocal.get_visit", "reciprocal.club_partners",
                                            "member.get_club", "member.get_member", NULL}},
};

const analytics_settings_t *analytics_settings(const svc_env_t *env) {
    return svc_settings(env, &analytics_module);
}
