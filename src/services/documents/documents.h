/* gateway (service module): the data the HTTP gateway itself owns, in PostgreSQL schema
 * `gateway`: persisted GraphQL documents (register, list, get by documentId). Its one operation
 * table is in gateway.c; the handlers are in graphql_documents.c. */
#ifndef SERVICES_GATEWAY_GATEWAY_H
#define SERVICES_GATEWAY_GATEWAY_H

#include "core/service.h"

extern const svc_module_t gateway_module;

#endif
