/* member_seed: see member_seed.h. */
#include "services/member/member_seed.h"

#include <stdio.h>

#include "services/member/member.h"

/* The demo network `make run` starts with. */
static const char *const seed_clubs[] = {
    "{\"name\":\"Harbour Yacht Club\",\"slug\":\"harbour-yacht\",\"timezone\":\"Europe/London\","
    "\"address\":{\"lines\":[\"1 Quay Street\"],\"city\":\"Southampton\",\"postal_code\":\"SO14 "
    "2AQ\",\"country\":\"GB\"},\"latitude\":50.8961,\"longitude\":-1.4044,\"contact_email\":"
    "\"desk@harbour-yacht.example\",\"facilities\":[\"dining\",\"bar\",\"rooms\",\"sailing\","
    "\"marina\"]}",
    "{\"name\":\"Union University Club\",\"slug\":\"union-university\",\"timezone\":\"America/"
    "New_York\",\"address\":{\"lines\":[\"101 East 38th Street\"],\"city\":\"New York\",\"region\":"
    "\"NY\",\"postal_code\":\"10016\",\"country\":\"US\"},\"latitude\":40.7496,\"longitude\":-73."
    "9785,\"website\":\"https://union-university.example\",\"facilities\":[\"dining\",\"rooms\","
    "\"library\",\"fitness\",\"squash\"]}",
    "{\"name\":\"Highveld Country Club\",\"slug\":\"highveld-country\",\"timezone\":\"Africa/"
    "Johannesburg\",\"address\":{\"city\":\"Johannesburg\",\"country\":\"ZA\"},\"facilities\":["
    "\"golf\",\"tennis\",\"pool\",\"dining\",\"riding\"]}",
    NULL};

int member_seed(const svc_env_t *env, err_t *e) {
    svc_caller_t admin = {.network_admin = 1};
    snprintf(admin.perms, sizeof admin.perms, "*");
    snprintf(admin.request_id, sizeof admin.request_id, "seed");
    const svc_op_t *op = svc_find_op(&member_module, "create_club");
    for (const char *const *s = seed_clubs; *s; s++) {
        json_t *in = json_loads(*s, 0, NULL), *out = NULL;
        int status = 0;
        err_clear(e);
        int rc = svc_dispatch(env, &member_module, op, &admin, in, &status, &out, e);
        if (rc == 0)
            printf("seeded club %s\n", json_string_value(json_object_get(out, "slug")));
        else if (status == 409)
            printf("club %s already present\n", json_string_value(json_object_get(in, "slug")));
        json_decref(in);
        json_decref(out);
        if (rc != 0 && status != 409) return -1;
    }
    err_clear(e);
    return 0;
}
