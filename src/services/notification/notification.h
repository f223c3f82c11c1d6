/* notification (service module): the members' notification preferences and, later, the delivery
 * of notifications (email, push) from other services' events. Today one operation:
 * get_preferences, GET /api/v1/notifications/preferences, the signed-in caller's own
 * preferences in their club ({"email": bool, "push": bool}; the defaults until they are set).
 * Its data: schema `notification` (migrations/). Owns nothing global. Guide to this layout:
 * docs/adding-a-service.md. */
#ifndef SERVICES_NOTIFICATION_NOTIFICATION_H
#define SERVICES_NOTIFICATION_NOTIFICATION_H

#include "core/service.h"

extern const svc_module_t notification_module;

#endif
