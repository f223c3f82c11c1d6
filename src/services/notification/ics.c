/* ics: see ics.h. */
#include "services/notification/ics.h"

#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "2030-03-04" -> an all-day icaltime; 0 or -1 */
static int date_of(const char *s, struct icaltimetype *t) {
    int y, m, d;
    char tail;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 ||
        m > 12 || d < 1 || d > 31)
        return -1;
    *t = icaltime_null_date();
    t->year = y;
    t->month = m;
    t->day = d;
    t->is_date = 1;
    return icaltime_is_valid_time(*t) ? 0 : -1;
}

char *notify_visit_ics(const char *visit_id, const char *summary, const char *location,
                       const char *arrive, const char *depart) {
    struct icaltimetype start, end;
    char uid[96];
    if (date_of(arrive, &start) != 0 || date_of(depart, &end) != 0 ||
        icaltime_compare_date_only(end, start) < 0)
        return NULL;
    icaltime_adjust(&end, 1, 0, 0, 0); /* DTEND of an all-day event is exclusive */
    snprintf(uid, sizeof uid, "visit-%s@reciprocal-clubs", visit_id ? visit_id : "");
    icalcomponent *ev = icalcomponent_vanew(
        ICAL_VEVENT_COMPONENT, icalproperty_new_uid(uid),
        icalproperty_new_dtstamp(icaltime_current_time_with_zone(icaltimezone_get_utc_timezone())),
        icalproperty_new_dtstart(start), icalproperty_new_dtend(end),
        icalproperty_new_summary(summary ? summary : "Visit"),
        icalproperty_new_location(location ? location : ""),
        icalproperty_new_status(ICAL_STATUS_CONFIRMED), (void *)0);
    icalcomponent *cal =
        icalcomponent_vanew(ICAL_VCALENDAR_COMPONENT, icalproperty_new_version("2.0"),
                            icalproperty_new_prodid("-//Reciprocal Clubs//Notifications//EN"),
                            icalproperty_new_method(ICAL_METHOD_PUBLISH), ev, (void *)0);
    if (!cal) {
        icalcomponent_free(ev);
        return NULL;
    }
    char *text = icalcomponent_as_ical_string_r(cal); /* malloc'd (libical's buffer) */
    icalcomponent_free(cal);
    return text;
}
