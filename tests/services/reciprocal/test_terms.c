/* Unit tests of the reciprocal service's pure parts: agreement terms (defaults, every rule's
 * refusal naming its field path, facilities from the host's list, summary) and the agreement
 * lifecycle table (every legal transition, illegal ones, the allowed-action lists). */
#include <jansson.h>

#include "services/reciprocal/lifecycle.h"
#include "services/reciprocal/terms.h"
#include "test.h"

#define PATH "terms.0b6a3c1e-0000-4000-8000-000000000001"

static json_t *parse(const char *text, err_t *e) {
    json_t *in = text ? json_loads(text, 0, NULL) : NULL;
    json_t *t = terms_parse(in, PATH, e);
    json_decref(in);
    return t;
}

static long long iv(const json_t *t, const char *k) {
    return json_integer_value(json_object_get(t, k));
}

static void test_defaults(void) {
    err_t e = {0};
    json_t *t = parse(NULL, &e);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(iv(t, "max_visits_month"), 4);
    CHECK_EQ_INT(iv(t, "max_days_year"), 30);
    CHECK_EQ_INT(iv(t, "max_days_per_stay"), 14);
    CHECK_EQ_INT(iv(t, "max_guests"), 0);
    CHECK_EQ_INT(iv(t, "min_notice_hours"), 48);
    CHECK_EQ_INT(iv(t, "max_advance_days"), 365);
    CHECK_EQ_INT(iv(t, "residency_exclusion_km"), 150);
    CHECK_EQ_INT(iv(t, "loi_validity_days"), 30);
    CHECK(json_is_false(json_object_get(t, "auto_approve")));
    CHECK_STR(json_string_value(json_object_get(t, "payment_mode")), "pay_at_host");
    CHECK_EQ_INT(json_array_size(json_object_get(t, "weekdays")), 7);
    CHECK(json_is_null(json_object_get(t, "allowed_facilities")));
    CHECK(json_is_null(json_object_get(t, "eligible_categories")));
    CHECK_STR(json_string_value(json_object_get(json_object_get(t, "hours"), "to")), "24:00");
    CHECK(json_is_null(json_object_get(json_object_get(t, "fees"), "currency")));
    CHECK_EQ_INT(json_array_size(json_object_get(t, "cancellation_tiers")), 0);
    json_decref(t);
    /* an empty object is the defaults too; given values replace them */
    t = parse(
        "{\"max_guests\":2,\"auto_approve\":true,\"payment_mode\":\"bill_home_club\","
        "\"fees\":{\"currency\":\"GBP\",\"entry\":1500},\"weekdays\":[\"sat\",\"sun\"],"
        "\"blackouts\":[{\"from\":\"2027-07-01\",\"to\":\"2027-07-14\",\"reason\":\"Open\"}],"
        "\"cancellation_tiers\":[{\"hours_before\":168,\"fee_percent\":0},{\"hours_before\":"
        "48,\"fee_percent\":25},{\"hours_before\":0,\"fee_percent\":100}],\"hours\":{\"from\":"
        "\"07:00\",\"to\":\"22:30\"},\"eligible_categories\":[\"full\",\"senior\"]}",
        &e);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(iv(t, "max_guests"), 2);
    CHECK_EQ_INT(iv(t, "max_visits_month"), 4);
    CHECK(json_is_true(json_object_get(t, "auto_approve")));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(t, "fees"), "entry")), 1500);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(t, "fees"), "guest")), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(t, "cancellation_tiers")), 3);
    json_t *s = terms_summary(t);
    CHECK_STR(json_string_value(json_object_get(s, "currency")), "GBP");
    CHECK_EQ_INT(iv(s, "entry_fee"), 1500);
    CHECK_EQ_INT(iv(s, "max_guests"), 2);
    json_decref(s);
    json_decref(t);
}

/* One refused input: the field path, the code and its status (the rule of docs/architecture.md
 * "Errors": 400 for a wrong JSON type or an unknown key, 422 for an unacceptable value). */
static void refused(const char *text, const char *field, const char *code) {
    err_t e = {0};
    json_t *t = parse(text, &e);
    if (t || strcmp(e.field, field) != 0 || strcmp(e.code, code) != 0)
        printf("#   %s -> field %s %s (%s)\n", text, e.field, e.code, e.message);
    CHECK(t == NULL);
    CHECK_EQ_INT(e.status, strcmp(code, "invalid_field") == 0 ? 422 : 400);
    CHECK_STR(e.field, field);
    CHECK_STR(e.code, code);
    json_decref(t);
}

static void test_refusals(void) {
    refused("[]", PATH, "invalid_type");
    refused("{\"bogus\":1}", PATH ".bogus", "unknown_field");
    refused("{\"max_guests\":21}", PATH ".max_guests", "invalid_field");
    refused("{\"max_guests\":\"2\"}", PATH ".max_guests", "invalid_field");
    refused("{\"max_visits_month\":-1}", PATH ".max_visits_month", "invalid_field");
    refused("{\"max_days_year\":400}", PATH ".max_days_year", "invalid_field");
    refused("{\"max_days_per_stay\":0}", PATH ".max_days_per_stay", "invalid_field");
    refused("{\"max_days_per_stay\":20,\"max_days_year\":10}", PATH ".max_days_per_stay",
            "invalid_field");
    refused("{\"min_notice_hours\":1.5}", PATH ".min_notice_hours", "invalid_field");
    refused("{\"max_advance_days\":0}", PATH ".max_advance_days", "invalid_field");
    refused("{\"residency_exclusion_km\":-5}", PATH ".residency_exclusion_km", "invalid_field");
    refused("{\"loi_validity_days\":0}", PATH ".loi_validity_days", "invalid_field");
    refused("{\"auto_approve\":\"yes\"}", PATH ".auto_approve", "invalid_field");
    refused("{\"payment_mode\":\"cash\"}", PATH ".payment_mode", "invalid_field");
    refused("{\"weekdays\":[]}", PATH ".weekdays", "invalid_field");
    refused("{\"weekdays\":[\"mon\",\"funday\"]}", PATH ".weekdays[1]", "invalid_field");
    refused("{\"weekdays\":[\"mon\",\"mon\"]}", PATH ".weekdays[1]", "invalid_field");
    refused("{\"allowed_facilities\":[\"Golf Course\"]}", PATH ".allowed_facilities[0]",
            "invalid_field");
    refused("{\"eligible_categories\":\"full\"}", PATH ".eligible_categories", "invalid_field");
    refused("{\"hours\":{\"from\":\"07:00\"}}", PATH ".hours.to", "invalid_field");
    refused("{\"hours\":{\"from\":\"25:00\",\"to\":\"26:00\"}}", PATH ".hours.from",
            "invalid_field");
    refused("{\"hours\":{\"from\":\"10:00\",\"to\":\"09:00\"}}", PATH ".hours.to", "invalid_field");
    refused("{\"hours\":{\"from\":\"10:00\",\"to\":\"11:00\",\"tz\":1}}", PATH ".hours.tz",
            "unknown_field");
    refused("{\"blackouts\":[{\"from\":\"2027-02-30\",\"to\":\"2027-03-01\"}]}",
            PATH ".blackouts[0].from", "invalid_field");
    refused("{\"blackouts\":[{\"from\":\"2027-03-02\",\"to\":\"2027-03-01\"}]}",
            PATH ".blackouts[0].to", "invalid_field");
    refused("{\"blackouts\":[{\"from\":\"2027-03-01\",\"to\":\"2027-03-02\",\"x\":1}]}",
            PATH ".blackouts[0]", "invalid_field");
    refused("{\"fees\":{\"entry\":100}}", PATH ".fees.currency", "invalid_field");
    refused("{\"fees\":{\"currency\":\"XYZ\"}}", PATH ".fees.currency", "invalid_field");
    refused("{\"fees\":{\"currency\":\"EUR\",\"guest\":-1}}", PATH ".fees.guest", "invalid_field");
    refused("{\"fees\":{\"currency\":\"EUR\",\"room_rate\":12.5}}", PATH ".fees.room_rate",
            "invalid_field");
    refused("{\"fees\":{\"tip\":1}}", PATH ".fees.tip", "unknown_field");
    refused("{\"cancellation_tiers\":[{\"hours_before\":24,\"fee_percent\":50},{\"hours_before\":"
            "48,\"fee_percent\":10}]}",
            PATH ".cancellation_tiers[1].hours_before", "invalid_field");
    refused("{\"cancellation_tiers\":[{\"hours_before\":24,\"fee_percent\":101}]}",
            PATH ".cancellation_tiers[0].fee_percent", "invalid_field");
}

static void test_facilities(void) {
    err_t e = {0};
    json_t *club = json_loads("[\"dining\",\"rooms\",\"golf\"]", 0, NULL);
    json_t *t = parse(NULL, &e);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(terms_apply_facilities(t, club, PATH, &e), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(t, "allowed_facilities")), 3);
    json_decref(t);
    t = parse("{\"allowed_facilities\":[\"dining\",\"spa\"]}", &e);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(terms_apply_facilities(t, club, PATH, &e), -1);
    CHECK_EQ_INT(e.status, 422);
    CHECK_STR(e.field, PATH ".allowed_facilities[1]");
    json_decref(t);
    json_decref(club);
    CHECK(terms_is_currency("GBP") && terms_is_currency("ZWL") && !terms_is_currency("gbp"));
    CHECK(terms_is_date("2028-02-29") && !terms_is_date("2027-02-29") &&
          !terms_is_date("2027-1-1"));
}

static void test_lifecycle(void) {
    static const struct {
        const char *action, *from, *to;
    } legal[] = {
        {"accept", "proposed", "proposed"},      {"reject", "proposed", "rejected"},
        {"withdraw", "proposed", "withdrawn"},   {"suspend", "active", "suspended"},
        {"resume", "suspended", "active"},       {"terminate", "active", "active"},
        {"terminate", "suspended", "suspended"}, {"activate", "proposed", "active"},
        {"expire", "active", "expired"},         {"expire", "suspended", "expired"},
        {"enact", "active", "terminated"},       {"enact", "suspended", "terminated"},
    };
    for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++)
        CHECK_STR(lc_next(legal[i].action, legal[i].from), legal[i].to);
    /* everything else is illegal: every action from every state not listed above */
    static const char *const actions[] = {"accept",    "reject",   "withdraw", "suspend", "resume",
                                          "terminate", "activate", "expire",   "enact",   NULL};
    static const char *const states[] = {"proposed", "active",    "suspended", "terminated",
                                         "rejected", "withdrawn", "expired",   NULL};
    int legal_count = 0;
    for (const char *const *a = actions; *a; a++)
        for (const char *const *s = states; *s; s++)
            if (lc_next(*a, *s)) legal_count++;
    CHECK_EQ_INT(legal_count, (int)(sizeof legal / sizeof legal[0]));
    CHECK(lc_next("suspend", "proposed") == NULL);
    CHECK(lc_next("resume", "active") == NULL);
    CHECK(lc_next("accept", "active") == NULL);
    CHECK(lc_next("bogus", "active") == NULL);
    char buf[128];
    CHECK_STR(lc_allowed("proposed", buf, sizeof buf), "accept, reject, withdraw");
    CHECK_STR(lc_allowed("active", buf, sizeof buf), "suspend, terminate");
    CHECK_STR(lc_allowed("suspended", buf, sizeof buf), "resume, terminate");
    CHECK_STR(lc_allowed("terminated", buf, sizeof buf), "none");
    for (const char *const *s = states; *s; s++)
        CHECK_EQ_INT(lc_is_terminal(*s),
                     strcmp(*s, "proposed") && strcmp(*s, "active") && strcmp(*s, "suspended"));
    CHECK(lc_is_action("terminate") && !lc_is_action("enact") && lc_is_state("expired"));
}

int main(void) {
    RUN(test_defaults);
    RUN(test_refusals);
    RUN(test_facilities);
    RUN(test_lifecycle);
    TEST_DONE();
}
