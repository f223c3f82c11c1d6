/* documents (service module): persisted GraphQL documents (register, list, get by documentId),
 * the data the HTTP gateway itself owns. Its one operation table is in documents.c; the handlers
 * are in graphql_documents.c.
 *
 * The folder says what it holds; the module keeps the runtime name "gateway" (`--services
 * gateway` runs it with the HTTP gateway, NATS subjects svc.gateway.*, NATS user `gateway`) and
 * the PostgreSQL schema `gateway` whose migrations were applied under that key
 * (migrations/SERVICE): see docs/architecture.md "Modules". */
#ifndef SERVICES_DOCUMENTS_DOCUMENTS_H
#define SERVICES_DOCUMENTS_DOCUMENTS_H

#include "core/service.h"

extern const svc_module_t documents_module;

#endif
