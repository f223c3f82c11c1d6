/* ics: the calendar entry (.ics, RFC 5545, built with libical) attached to a confirmed visit's
 * mail: one all-day VEVENT from the arrival to the departure day (DTEND exclusive), at the host
 * club, with a stable UID per visit so a calendar updates rather than duplicates it. Owns
 * nothing. */
#ifndef SERVICES_NOTIFICATION_ICS_H
#define SERVICES_NOTIFICATION_ICS_H

/* The VCALENDAR text (METHOD:PUBLISH), malloc'd; NULL when a date is not YYYY-MM-DD or depart
 * is before arrive. visit_id makes the UID; summary and location are plain text (libical
 * escapes them). */
char *notify_visit_ics(const char *visit_id, const char *summary, const char *location,
                       const char *arrive, const char *depart);

#endif
