/* registry: the list of service modules linked into the binary. Adding a service = one line. */
#include "core/service.h"
#include "services/member/member.h"

const svc_module_t *const svc_registry[] = {
    &member_module,
    NULL,
};
