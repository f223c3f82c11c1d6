/* clubs: the club operations of the member service (create, list, get, update, activate,
 * deactivate). Owns the SQL over member.clubs and the club.* events it writes to the outbox.
 * Input shapes and errors are documented in README.md (API: clubs). */
#ifndef SERVICES_MEMBER_CLUBS_H
#define SERVICES_MEMBER_CLUBS_H

#include "core/service.h"

int clubs_validate_create(json_t *in, err_t *e);
int clubs_validate_update(json_t *in, err_t *e);
int clubs_validate_list(json_t *in, err_t *e);
int clubs_validate_ref(json_t *in, err_t *e);
int clubs_validate_status(json_t *in, err_t *e);

int clubs_create(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int clubs_list(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int clubs_get(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int clubs_update(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int clubs_deactivate(const svc_call_t *call, json_t *in, json_t **out, err_t *e);
int clubs_activate(const svc_call_t *call, json_t *in, json_t **out, err_t *e);

/* Follows the club events (club.updated, club.status_changed) on env's bus so that a change made
 * by any process drops the club from this process's read cache (core/rcache.h; `serve`, through
 * the member module's start hook). */
int clubs_cache_follow(const svc_env_t *env, err_t *e);

/* 1 if code is an assigned ISO 3166-1 alpha-2 country code (upper case). */
int clubs_is_country(const char *code);

/* The JSON shape of a club, built by PostgreSQL so every club operation (and the batch read in
 * clubs_batch.c) returns the same thing; the columns of member.clubs, as text. */
#define CLUB_JSON                                                                                  \
    "json_build_object('id', id, 'name', name, 'slug', slug, 'status', status, 'timezone', "       \
    "timezone, 'address', json_build_object('lines', to_jsonb(address_lines), 'city', city, "      \
    "'region', region, 'postal_code', postal_code, 'country', country), 'latitude', latitude, "    \
    "'longitude', longitude, 'contact_email', contact_email, 'contact_phone', contact_phone, "     \
    "'website', website, 'facilities', to_jsonb(facilities), 'created_at', "                       \
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'updated_at', "  \
    "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))::text"

#endif
