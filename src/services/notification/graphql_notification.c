/* graphql_notification: see graphql_notification.h. */
#include "services/notification/graphql_notification.h"

#include "gateway/graphql_bind.h"

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
    int rc = gqlb_query(info, "notification", "get_preferences", input, NULL, NULL, out, error);
    json_decref(input);
    return rc;
}

static int r_update_preferences(const gql_resolve_info *info, json_t *parent, json_t *args,
                                json_t **out, char **error) {
    (void)parent;
    json_t *input = gqlb_mutation_input(args);
    int rc = gqlb_mutation(info, "notification", "update_preferences", input, "preferences",
                           gqlb_output, out, error);
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
    return rc;
}
