/* graphql_notification: see graphql_notification.h. */
#include "services/notification/graphql_notification.h"

#include "gateway/graphql_bind.h"

/* REST preferences -> GraphQL: camelCase, and each category's digestWindow as the enum value
 * (daily -> DAILY). New reference. */
static json_t *prefs_output(json_t *rest) {
    json_t *out = gqlb_output(rest), *c;
    size_t i;
    json_array_foreach(json_object_get(out, "categories"), i, c) {
        json_t *w = json_object_get(c, "digestWindow");
        if (json_is_string(w)) json_object_set_new(c, "digestWindow", gqlb_upper(w));
    }
    return out;
}

/* CategoryPreferenceInput.digestWindow -> the REST category's digest ("daily" | "hourly"). */
static void prefs_input(json_t *input) {
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(input, "categories"), i, c) {
        json_t *w = json_object_get(c, "digest_window");
        if (!w) continue;
        char low[16] = "";
        const char *v = json_string_value(w);
        for (size_t k = 0; v && v[k] && k + 1 < sizeof low; k++)
            low[k] = (char)(v[k] >= 'A' && v[k] <= 'Z' ? v[k] - 'A' + 'a' : v[k]);
        json_object_set_new(c, "digest", json_string(low));
        json_object_del(c, "digest_window");
    }
}

static int r_notifications(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                           char **error) {
    (void)parent;
    api_req *r = info->ctx;
    json_t *input = gqlb_page_input(info, args, error), *output = NULL;
    if (!input) return -1;
    json_t *unread = json_object_get(args, "unread");
    if (json_is_boolean(unread)) json_object_set(input, "unread", unread);
    err_t e = {0};
    int rc = gqlb_call(r, "notification", "list_inbox", input, &output, &e);
    json_decref(input);
    if (rc != 0) return gqlb_fail(info, &e, error);
    *out = gqlb_output(output);
    json_decref(output);
    return 0;
}

static int r_mark(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                  char **error) {
    (void)parent;
    json_t *input = gqlb_rest_input(json_object_get(args, "input"));
    int rc = gqlb_mutation(info, "notification", info->ud, input, "notification", gqlb_output, out,
                           error);
    json_decref(input);
    return rc;
}

static int r_preferences(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                         char **error) {
    (void)parent, (void)args;
    json_t *input = json_object();
    int rc =
        gqlb_query(info, "notification", "get_preferences", input, NULL, prefs_output, out, error);
    json_decref(input);
    return rc;
}

static int r_update_preferences(const gql_resolve_info *info, json_t *parent, json_t *args,
                                json_t **out, char **error) {
    (void)parent;
    json_t *input = gqlb_mutation_input(args);
    prefs_input(input);
    int rc = gqlb_mutation(info, "notification", "update_preferences", input, "preferences",
                           prefs_output, out, error);
    json_decref(input);
    return rc;
}

static int r_webhooks(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                      char **error) {
    (void)parent, (void)args;
    json_t *input = json_object();
    int rc = gqlb_query(info, "notification", "list_webhooks", input, "items", NULL, out, error);
    json_decref(input);
    return rc;
}

static int r_webhook_deliveries(const gql_resolve_info *info, json_t *parent, json_t *args,
                                json_t **out, char **error) {
    (void)parent;
    json_t *input = json_object();
    int rc = gqlb_first(info, args, input, error);
    if (rc == 0) {
        gqlb_set_str(input, "id", json_object_get(args, "id"));
        rc = gqlb_query(info, "notification", "list_webhook_deliveries", input, "items", NULL, out,
                        error);
    }
    json_decref(input);
    return rc;
}

/* createWebhook, updateWebhook, deleteWebhook, rotateWebhookSecret: ud is the operation */
static int r_webhook_mutation(const gql_resolve_info *info, json_t *parent, json_t *args,
                              json_t **out, char **error) {
    (void)parent;
    json_t *input = gqlb_mutation_input(args);
    int rc =
        gqlb_mutation(info, "notification", info->ud, input, "webhook", gqlb_output, out, error);
    json_decref(input);
    return rc;
}

static int r_push_devices(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                          char **error) {
    (void)parent, (void)args;
    json_t *input = json_object();
    int rc =
        gqlb_query(info, "notification", "list_push_devices", input, "items", NULL, out, error);
    json_decref(input);
    return rc;
}

/* registerPushDevice, deletePushDevice: ud is the operation */
static int r_device_mutation(const gql_resolve_info *info, json_t *parent, json_t *args,
                             json_t **out, char **error) {
    (void)parent;
    json_t *input = gqlb_mutation_input(args);
    int rc =
        gqlb_mutation(info, "notification", info->ud, input, "device", gqlb_output, out, error);
    json_decref(input);
    return rc;
}

/* ---- notif-api: club notification defaults and template overrides (club:admin) ---- */

static int r_club_defaults(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                           char **error) {
    (void)parent, (void)args;
    json_t *input = json_object();
    int rc = gqlb_query(info, "notification", "get_club_notification_defaults", input, NULL, NULL,
                        out, error);
    json_decref(input);
    return rc;
}

/* The input keeps its explicit nulls (null = back to the network default, as over REST); only
 * a null categories list means "unchanged". */
static int r_set_club_defaults(const gql_resolve_info *info, json_t *parent, json_t *args,
                               json_t **out, char **error) {
    (void)parent;
    json_t *input = gqlb_rest_input(json_object_get(args, "input"));
    if (json_is_null(json_object_get(input, "categories"))) json_object_del(input, "categories");
    int rc = gqlb_mutation(info, "notification", "set_club_notification_defaults", input,
                           "defaults", gqlb_output, out, error);
    json_decref(input);
    return rc;
}

static int r_templates(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                       char **error) {
    (void)parent, (void)args;
    json_t *input = json_object();
    int rc = gqlb_query(info, "notification", "list_template_overrides", input, "items", NULL, out,
                        error);
    json_decref(input);
    return rc;
}

/* One override, or null when the club has none (its 404); other failures are field errors. */
static int r_template(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                      char **error) {
    (void)parent;
    json_t *input = json_object(), *output = NULL;
    gqlb_set_str(input, "key", json_object_get(args, "key"));
    gqlb_set_str(input, "locale", json_object_get(args, "locale"));
    err_t e = {0};
    int rc = gqlb_call(info->ctx, "notification", "get_template_override", input, &output, &e);
    json_decref(input);
    if (rc != 0 && e.status == 404) {
        *out = json_null();
        return 0;
    }
    if (rc != 0) return gqlb_fail(info, &e, error);
    *out = gqlb_output(output);
    json_decref(output);
    return 0;
}

/* The preview of a draft or of the club's resolution; vars arrives as JSON text. */
static int r_template_preview(const gql_resolve_info *info, json_t *parent, json_t *args,
                              json_t **out, char **error) {
    (void)parent;
    json_t *input = json_object();
    static const char *const keys[] = {"key", "locale", "subject", "body", NULL};
    for (const char *const *k = keys; *k; k++)
        gqlb_set_str(input, *k, json_object_get(args, *k));
    const char *vars = json_string_value(json_object_get(args, "vars"));
    if (vars) {
        json_t *v = json_loads(vars, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(v)) {
            json_decref(v);
            json_decref(input);
            err_t e = {0};
            err_set(&e, 400, "invalid_type", "vars", "vars must be a JSON object");
            return gqlb_fail(info, &e, error);
        }
        json_object_set_new(input, "vars", v);
    }
    int rc = gqlb_query(info, "notification", "preview_template", input, NULL, NULL, out, error);
    json_decref(input);
    return rc;
}

/* setNotificationTemplate, deleteNotificationTemplate: ud is the operation */
static int r_template_mutation(const gql_resolve_info *info, json_t *parent, json_t *args,
                               json_t **out, char **error) {
    (void)parent;
    json_t *input = gqlb_mutation_input(args);
    int rc =
        gqlb_mutation(info, "notification", info->ud, input, "template", gqlb_output, out, error);
    json_decref(input);
    return rc;
}

/* ---- mailfx: a club's e-mail suppression list (club:admin) ---- */

static int r_suppressions(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                          char **error) {
    (void)parent;
    json_t *input = json_object();
    int rc = gqlb_first(info, args, input, error);
    if (rc == 0)
        rc = gqlb_query(info, "notification", "list_email_suppressions", input, "items", NULL, out,
                        error);
    json_decref(input);
    return rc;
}

static int r_delete_suppression(const gql_resolve_info *info, json_t *parent, json_t *args,
                                json_t **out, char **error) {
    (void)parent;
    json_t *input = gqlb_mutation_input(args);
    int rc = gqlb_mutation(info, "notification", "delete_email_suppression", input, "suppression",
                           gqlb_output, out, error);
    json_decref(input);
    return rc;
}

int gql_notification_bind(gql_resolvers *rs) {
    int rc = 0;
    rc |= gql_resolvers_add(rs, "Viewer", "notifications", r_notifications, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Mutation", "markNotificationSeen", r_mark, NULL,
                            (void *)"mark_inbox_seen");
    rc |= gql_resolvers_add(rs, "Mutation", "markNotificationRead", r_mark, NULL,
                            (void *)"mark_inbox_read");
    rc |= gql_resolvers_add(rs, "Viewer", "notificationPreferences", r_preferences, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Mutation", "updateNotificationPreferences", r_update_preferences,
                            NULL, NULL);
    rc |= gql_resolvers_add(rs, "Viewer", "webhooks", r_webhooks, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Viewer", "webhookDeliveries", r_webhook_deliveries, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Mutation", "createWebhook", r_webhook_mutation, NULL,
                            (void *)"create_webhook");
    rc |= gql_resolvers_add(rs, "Mutation", "updateWebhook", r_webhook_mutation, NULL,
                            (void *)"update_webhook");
    rc |= gql_resolvers_add(rs, "Mutation", "deleteWebhook", r_webhook_mutation, NULL,
                            (void *)"delete_webhook");
    rc |= gql_resolvers_add(rs, "Mutation", "rotateWebhookSecret", r_webhook_mutation, NULL,
                            (void *)"rotate_webhook_secret");
    /* SMS and push (issue 13): the caller's push devices */
    rc |= gql_resolvers_add(rs, "Viewer", "pushDevices", r_push_devices, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Mutation", "registerPushDevice", r_device_mutation, NULL,
                            (void *)"register_push_device");
    rc |= gql_resolvers_add(rs, "Mutation", "deletePushDevice", r_device_mutation, NULL,
                            (void *)"delete_push_device");
    /* notif-api: club notification defaults and template overrides */
    rc |= gql_resolvers_add(rs, "Viewer", "clubNotificationDefaults", r_club_defaults, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Mutation", "setClubNotificationDefaults", r_set_club_defaults,
                            NULL, NULL);
    rc |= gql_resolvers_add(rs, "Viewer", "notificationTemplates", r_templates, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Viewer", "notificationTemplate", r_template, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Viewer", "notificationTemplatePreview", r_template_preview, NULL,
                            NULL);
    rc |= gql_resolvers_add(rs, "Mutation", "setNotificationTemplate", r_template_mutation, NULL,
                            (void *)"put_template_override");
    rc |= gql_resolvers_add(rs, "Mutation", "deleteNotificationTemplate", r_template_mutation, NULL,
                            (void *)"delete_template_override");
    /* mailfx: the club's e-mail suppression list */
    rc |= gql_resolvers_add(rs, "Viewer", "emailSuppressions", r_suppressions, NULL, NULL);
    rc |= gql_resolvers_add(rs, "Mutation", "deleteEmailSuppression", r_delete_suppression, NULL,
                            NULL);
    return rc;
}
