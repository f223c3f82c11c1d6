/* registry: the list of service modules linked into the binary. Adding a service = one line.
 * Order matters only for the seed hooks (`reciprocal seed` runs them in this order: member's
 * clubs before auth's club administrators) and the order of `reciprocal config`/`help`. */
#include "core/service.h"
#include "services/auth/auth.h"
#include "services/documents/documents.h"
#include "services/governance/governance.h"
#include "services/ledger/ledger.h"
#include "services/member/member.h"
#include "services/notification/notification.h"
#include "services/reciprocal/reciprocal.h"

/* one module a line, so adding a service adds one line */
/* clang-format off */
const svc_module_t *const svc_registry[] = {
    &member_module,
    &auth_module,
    &ledger_module,
    &documents_module,
    &reciprocal_module,
    &notification_module,
    &governance_module,
    NULL,
};
/* clang-format on */
