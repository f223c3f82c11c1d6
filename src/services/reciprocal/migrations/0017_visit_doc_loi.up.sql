-- reciprocal service: the visit document with its letter from the calling statement (issue 11,
-- docs/reciprocal.md "Speed: the move without loi_doc (stop 22)"). visit_doc(v) reads the letter
-- through reciprocal.loi_doc, a PL/pgSQL call per document (0014: a sub-select in visit_doc
-- would keep it from being inlined). A statement that has the letter's row at hand (the door's
-- letter read joins it) or can join it (the check-in's move) now builds the same document with
-- visit_doc(v, loi) and loi_json(l): both single expressions, inlined into the calling statement,
-- so no PL/pgSQL frame and no query of its own. The documents are unchanged byte for byte (one
-- body: visit_doc(v) is visit_doc(v, loi_doc(v.id)), loi_doc answers loi_json of its row); row
-- level security is unchanged (the caller's join of reciprocal.lois passes its policies, as
-- loi_doc's SECURITY INVOKER query did).
CREATE FUNCTION reciprocal.loi_json(l reciprocal.lois) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT CASE WHEN l.visit_id IS NOT NULL THEN jsonb_build_object('token', l.token,
        'code', l.code, 'kid', l.kid, 'valid_from', reciprocal.ts(l.valid_from),
        'valid_to', reciprocal.ts(l.valid_to), 'revoked', l.revoked_at IS NOT NULL) END
    $$;
GRANT EXECUTE ON FUNCTION reciprocal.loi_json(reciprocal.lois) TO reciprocal_app;

CREATE FUNCTION reciprocal.visit_doc(v reciprocal.visits, loi jsonb) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'status', v.status, 'member_id', v.member_id,
        'home_club_id', v.home_club_id, 'host_club_id', v.host_club_id,
        'agreement_id', v.agreement_id, 'arrive_on', v.arrive_on, 'depart_on', v.depart_on,
        'days', v.days, 'guests', v.guests, 'facilities', to_jsonb(v.facilities),
        'host_timezone', v.host_timezone, 'requested_by', v.requested_by,
        'checked_in_at', reciprocal.ts(v.checked_in_at), 'checked_in_by', v.checked_in_by,
        'checked_out_at', reciprocal.ts(v.checked_out_at),
        'loi', loi,
        'created_at', reciprocal.ts(v.created_at), 'updated_at', reciprocal.ts(v.updated_at))
    $$;
GRANT EXECUTE ON FUNCTION reciprocal.visit_doc(reciprocal.visits, jsonb) TO reciprocal_app;

CREATE OR REPLACE FUNCTION reciprocal.visit_doc(v reciprocal.visits) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$ SELECT reciprocal.visit_doc(v, reciprocal.loi_doc(v.id)) $$;

CREATE OR REPLACE FUNCTION reciprocal.loi_doc(visit uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    d jsonb;
BEGIN
    SELECT reciprocal.loi_json(l) INTO d FROM reciprocal.lois l WHERE l.visit_id = visit;
    RETURN d;
END
$$;
