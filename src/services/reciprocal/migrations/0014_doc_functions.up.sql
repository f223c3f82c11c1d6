-- reciprocal service: the visit document without planning on every call (issue 11, "Speed";
-- docs/reciprocal.md "Documents planned once"). PostgreSQL 15 parses and plans the body of a SQL
-- function that it cannot inline again on every execution of the statement calling it (its
-- plan lives in that execution, not in the prepared statement's cached plan):
--   - reciprocal.ts was IMMUTABLE over to_char (STABLE), which forbids inlining: every
--     timestamp of every document was a planned sub-query. STABLE, it is inlined (same text).
--   - reciprocal.visit_doc held a sub-select (the letter), which forbids inlining: every
--     POST /visits, letter check and check-in planned the whole document (1-3 times each).
--     The letter is now reciprocal.loi_doc (PL/pgSQL: its query is prepared once per session)
--     and visit_doc, a single expression, is inlined into the calling statement.
-- The documents are unchanged byte for byte (the same jsonb_build_object calls); row-level
-- security is unchanged (loi_doc is SECURITY INVOKER and STABLE: the caller's policies and the
-- calling statement's snapshot, as the sub-select had).
CREATE OR REPLACE FUNCTION reciprocal.ts(t timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

CREATE FUNCTION reciprocal.loi_doc(visit uuid) RETURNS jsonb
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
GRANT EXECUTE ON FUNCTION reciprocal.loi_doc(uuid) TO reciprocal_app;

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
