/* graphql_bind: what the GraphQL resolver modules share (graphql_api.c for health, each
 * service's .graphql hook for its fields: graphql_auth.c for `me`, graphql_members.c and
 * graphql_clubs.c for members and clubs, ...): the per-request context (caller identity, the
 * club cache), calling a service operation through the same path as REST
 * (svc_dispatch in process, svc_call_remote over NATS), REST <-> GraphQL shape conversion
 * (snake_case <-> camelCase keys, lower-case <-> upper-case enum values), field errors with
 * extensions.code, mutation payloads with typed userErrors, and club loading with batching.
 * Owns nothing global. */
#ifndef GATEWAY_GRAPHQL_BIND_H
#define GATEWAY_GRAPHQL_BIND_H

#include <jansson.h>

#include "core/service.h"
#include "lib/graphql/gql_exec.h"

struct gql_api;

/* Per request (gql_exec_opts.ctx). */
typedef struct api_req {
    struct gql_api *api;
    const svc_env_t *env;
    svc_caller_t caller;
    json_t *clubs;     /* club cache: id or slug -> REST club object, or null (not found) */
    json_t *relations; /* batch cache: operation name -> member id -> REST items */
} api_req;

/* Runs module.op with the request's caller through svc_call (svc_dispatch in process,
 * svc_call_remote over NATS: same permissions and RLS as REST); counts it in
 * graphql_operation_calls_total{operation}. 0 + *output, or -1 + e. */
int gqlb_call(api_req *r, const char *module, const char *op, json_t *input, json_t **output,
              err_t *e);

/* A resolver's failure from an operation error: *error = message, extensions.code = e->code
 * (or a code derived from the status). Returns -1. */
int gqlb_fail(const gql_resolve_info *info, const err_t *e, char **error);

void gqlb_snake(const char *in, char *out, size_t cap); /* postalCode -> postal_code */
void gqlb_camel(const char *in, char *out, size_t cap); /* postal_code -> postalCode */

/* GraphQL input -> REST input: keys to snake_case (recursively, also in arrays), the values of
 * enum keys (status, facility, facilities, relationship) to lower case. New reference. */
json_t *gqlb_rest_input(json_t *in);
/* REST output -> GraphQL: keys to camelCase (recursively), values of the keys status,
 * relationship, from, to in upper case. New reference. */
json_t *gqlb_output(json_t *rest);
/* "active" -> "ACTIVE", also over arrays; other values unchanged. New reference (NULL for NULL). */
json_t *gqlb_upper(json_t *v);

/* A mutation: calls module.op with input; success -> {key: convert(output), userErrors: []};
 * a 400/404/409/422 -> {key: null, userErrors: [{field (camelCase), message, code}]};
 * other failures (401, 403, 5xx) -> a field error with extensions.code. convert may be NULL
 * (the output as is). */
int gqlb_mutation(const gql_resolve_info *info, const char *module, const char *op, json_t *input,
                  const char *key, json_t *(*convert)(json_t *), json_t **out, char **error);

/* A service's mutations as one table: each row binds Mutation.<field> to module.op. The
 * resolver reads the REST input from args.input (gqlb_mutation_input), lets prepare (may be
 * NULL) adjust it (e.g. a GraphQL list into the REST map), and answers gqlb_mutation with the
 * row's key and convert (NULL = gqlb_output). The rows are the resolvers' user data: they must
 * outlive rs (a static table). 0, or -1 when a field could not be bound. */
typedef struct gqlb_mutation_row {
    const char *field, *module, *op, *key;
    json_t *(*convert)(json_t *rest);
    void (*prepare)(json_t *input);
} gqlb_mutation_row_t;
int gqlb_add_mutations(gql_resolvers *rs, const gqlb_mutation_row_t *rows, size_t n);

/* A connection's `first` argument into input "limit": 0 when absent or 1..100 (copied), else -1
 * with a field error, extensions.code invalid_field, "first must be from 1 to 100". */
int gqlb_first(const gql_resolve_info *info, json_t *args, json_t *input, char **error);
/* A list operation's input from a connection's arguments: {limit (gqlb_first), after} (new
 * reference; the resolver adds its filters), or NULL after gqlb_first's field error. */
json_t *gqlb_page_input(const gql_resolve_info *info, json_t *args, char **error);

/* A query field: calls module.op with input (not consumed); on success *out = convert(the
 * output's key, or the whole output when key is NULL), convert NULL = gqlb_output; a failure is
 * gqlb_fail's field error. 0 or -1. */
int gqlb_query(const gql_resolve_info *info, const char *module, const char *op, json_t *input,
               const char *key, json_t *(*convert)(json_t *), json_t **out, char **error);
/* A connection field: the same over a list operation, *out = gqlb_connection(output, node_of). */
int gqlb_list(const gql_resolve_info *info, const char *module, const char *op, json_t *input,
              json_t *(*node_of)(json_t *), json_t **out, char **error);
/* A list field of a parent object that its get operation answers (e.g. Visit.history): the
 * parent's key when it holds it (the parent came from module.op), else one module.op call with
 * {id: parent.id} answering its key (gqlb_query). 0 or -1. */
int gqlb_parent_or_get(const gql_resolve_info *info, json_t *parent, const char *key,
                       const char *module, const char *op, json_t **out, char **error);
/* Copies v into input[key] when it is a string (an optional argument given). */
void gqlb_set_str(json_t *input, const char *key, json_t *v);
/* Copies v lower-cased into input[key] when it is a string (an enum argument given:
 * "CHECKED_IN" -> "checked_in"). */
void gqlb_set_enum(json_t *input, const char *key, json_t *v);
/* A mutation's REST input: gqlb_rest_input(args.input) without its null fields (absent =
 * default, as over REST). New reference. */
json_t *gqlb_mutation_input(json_t *args);

/* A club field of a parent object that holds the club's id under the key given as the
 * resolver's user data (e.g. Member.club with "clubId"): the prefetch hook loads every parent's
 * club with one get_clubs_by_ids, the resolver answers the club (or null without an id). */
void gqlb_prefetch_parent_clubs(const gql_resolve_info *info, json_t *calls);
int gqlb_parent_club(const gql_resolve_info *info, json_t *parent, json_t *args, json_t **out,
                     char **error);

/* A Relay connection {edges: [{cursor, node}], pageInfo: {hasNextPage, endCursor}} from a list
 * operation's output {items, cursors, next_cursor} (the service's cursors, one per item, same
 * order: the gateway never rebuilds a cursor). node = node_of(item) (new reference) or the item.
 * New reference. */
json_t *gqlb_connection(json_t *output, json_t *(*node_of)(json_t *));

/* Clubs: one by id or slug through the cache (get_club on a miss; 404 -> null, no error), and
 * a batch of ids loaded with ONE get_clubs_by_ids call into the cache (no call when fewer than
 * two ids are missing: the single get_club is as cheap). */
int gqlb_club(api_req *r, const char *id, json_t **out, err_t *e);
void gqlb_prefetch_clubs(api_req *r, json_t *ids);

/* Members of a list of parents (Member.dependents, Visit.member), prefetched with ONE
 * member_relations_by_ids call, which answers one club's members:
 *   gqlb_batch_ids: the ids (new array) of the prefetch batch `calls` to ask for: each parent's
 *                   string id_key, when its club (string club_key) is the batch's (*club: the
 *                   first parent's with a club) and skip(info, parent, id, club) is 0; at most
 *                   100. A parent without an id or a club is left out.
 *   gqlb_member_relations: the call for ids (naming club_id when club is not NULL): its output
 *                   (new reference), or NULL when ids holds fewer than two (the single call is as
 *                   cheap) or the call failed (each field then falls back to its own call).
 *   gqlb_relations_cache: r->relations[key], the request's cache of one kind of answer (created
 *                   empty on first use; borrowed). */
typedef int (*gqlb_batch_skip_fn)(const gql_resolve_info *info, json_t *parent, const char *id,
                                  const char *club);
json_t *gqlb_batch_ids(const gql_resolve_info *info, json_t *calls, const char *id_key,
                       const char *club_key, gqlb_batch_skip_fn skip, const char **club);
json_t *gqlb_member_relations(api_req *r, json_t *ids, const char *club);
json_t *gqlb_relations_cache(api_req *r, const char *key);

#endif
