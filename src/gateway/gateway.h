/* gateway: the HTTP front door. Owns the router built from every registered service module's
 * operation table, and the request path: health and metrics endpoints, authentication of the
 * caller (open mode until the auth service lands), content-type and body checks, turning path
 * parameters + query string + JSON body into one operation input, then calling the operation
 * in-process when its service runs here or over NATS when it runs elsewhere. */
#ifndef GATEWAY_GATEWAY_H
#define GATEWAY_GATEWAY_H

#include "core/http.h"
#include "core/service.h"

typedef struct gateway gateway_t;

/* env is borrowed and must outlive the gateway. */
gateway_t *gw_new(const svc_env_t *env, err_t *e);
void gw_free(gateway_t *g);
/* The http_handler_fn to give to http_start (ud = the gateway). */
void gw_handle(const http_request_t *req, http_response_t *resp, void *ud);
/* The http_body_limit_fn to give to http_start (ud = the gateway): the max_body of the route's
 * operation (e.g. the member CSV import), else 0 (the global limit). */
size_t gw_body_limit(const char *method, const char *path, void *ud);

#endif
