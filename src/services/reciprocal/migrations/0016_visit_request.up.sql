-- reciprocal service: a visit request's row and its first history row in ONE statement (issue 11,
-- "Speed": docs/reciprocal.md "One call for the request's rows"). POST /visits sent the visit's
-- INSERT and its history row as two statements of one flight: the history row's policy
-- (visit_transitions_create) looks the visit up, which a statement inserting both (a writable
-- CTE) would not see. A PL/pgSQL function runs them one after the other, the second seeing the
-- first, in one call: one statement of the protocol fewer per request (its bind, portal,
-- snapshot and executor start), the same rows. SECURITY INVOKER: the caller's row policies
-- apply to both inserts as before; VOLATILE: each statement sees the ones before it.
-- Answers the new visit's document (reciprocal.visit_doc) as text.
CREATE FUNCTION reciprocal.visit_request(p_id uuid, p_home uuid, p_host uuid, p_member uuid,
                                         p_agreement uuid, p_arrive date, p_depart date,
                                         p_guests integer, p_facilities jsonb, p_timezone text,
                                         p_actor uuid) RETURNS text
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    doc text;
BEGIN
    INSERT INTO reciprocal.visits AS v (id, home_club_id, host_club_id, member_id, agreement_id,
                                        arrive_on, depart_on, guests, facilities, host_timezone,
                                        requested_by)
        VALUES (p_id, p_home, p_host, p_member, p_agreement, p_arrive, p_depart, p_guests,
                ARRAY(SELECT jsonb_array_elements_text(p_facilities)), p_timezone, p_actor)
        RETURNING reciprocal.visit_doc(v)::text INTO doc;
    INSERT INTO reciprocal.visit_transitions (visit_id, club_id, actor_user_id, action,
                                              from_status, to_status, reason)
        VALUES (p_id, p_home, p_actor, 'request', NULL, 'requested', NULL);
    RETURN doc;
END
$$;
REVOKE ALL ON FUNCTION reciprocal.visit_request(uuid, uuid, uuid, uuid, uuid, date, date, integer,
                                                jsonb, text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reciprocal.visit_request(uuid, uuid, uuid, uuid, uuid, date, date,
                                                   integer, jsonb, text, uuid) TO reciprocal_app;
