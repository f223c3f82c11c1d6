-- the bodies of 0014
CREATE OR REPLACE FUNCTION reciprocal.loi_doc(visit uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    d jsonb;
BEGIN
    SELECT jsonb_build_object('token', l.token, 'code', l.code, 'kid', l.kid,
               'valid_from', reciprocal.ts(l.valid_from), 'valid_to', reciprocal.ts(l.valid_to),
               'revoked', l.revoked_at IS NOT NULL)
        INTO d FROM reciprocal.lois l WHERE l.visit_id = visit;
    RETURN d;
END
$$;

CREATE OR REPLACE FUNCTION reciprocal.visit_doc(v reciprocal.visits) RETURNS jsonb
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
        'loi', reciprocal.loi_doc(v.id),
        'created_at', reciprocal.ts(v.created_at), 'updated_at', reciprocal.ts(v.updated_at))
    $$;

DROP FUNCTION reciprocal.visit_doc(reciprocal.visits, jsonb);
DROP FUNCTION reciprocal.loi_json(reciprocal.lois);
