/* registry: the list of service modules linked into the binary. Adding a service = one line. */
#include "core/service.h"
#include "services/auth/auth.h"
#include "services/documents/documents.h"
#include "services/ledger/ledger.h"
#include "services/member/member.h"

const svc_module_t *const svc_registry[] = {
    &auth_module, &member_module, &ledger_module, &documents_module, NULL,
};
