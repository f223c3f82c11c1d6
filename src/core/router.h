/* router: matches (method, path) against route templates such as "/api/v1/clubs/{id}".
 * Owns its table of routes (copied templates) and returns the matched entry plus the captured
 * path parameters. Literal segments win over parameters; 405 is distinguished from 404. */
#ifndef CORE_ROUTER_H
#define CORE_ROUTER_H

#define ROUTER_MAX_PARAMS 4

typedef struct router router_t;

typedef struct router_match {
    const char *route; /* the template (stable pointer owned by the router) */
    void *target;      /* what was registered */
    int n_params;
    char names[ROUTER_MAX_PARAMS][32];
    char values[ROUTER_MAX_PARAMS][256]; /* percent-decoded */
} router_match_t;

router_t *router_new(void);
void router_free(router_t *r);
/* Returns 0, or -1 if the template is malformed or the (method, template) pair exists. */
int router_add(router_t *r, const char *method, const char *template, void *target);
/* Returns 200 when matched, 404 when no template matches the path, 405 when the path matches
 * but not the method (then *allow lists the allowed methods, comma separated). */
int router_match(const router_t *r, const char *method, const char *path, router_match_t *m,
                 char *allow, int allow_len);

#endif
