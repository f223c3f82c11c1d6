-- member service: the member document (0006, 0008) built as json text for reads that send it as it is
-- (issue 16). The list, the searches and the by-id read answer member_doc_of's document through
-- the JSON pass-through (core/json.h jsonx_raw): PostgreSQL's text goes to the client. Built as
-- jsonb (0006), every row's document was assembled into jsonb's binary form (keys sorted,
-- containers allocated per level) only to be printed to text again by the ::text cast: with the
-- addresses aggregate, about a third of the database's CPU of a page of 20. json_build_object
-- writes the text directly. The keys are written in jsonb's order (shorter keys first, then
-- bytewise), so the text is the document member_doc_of prints, and after the pass-through's
-- normalisation (compact, jansson's escapes) the same bytes: the answers do not change.
-- member_doc_of stays the document of record (events, exports, everything that reads fields).
CREATE FUNCTION member.address_doc_text(a member.addresses) RETURNS json
    LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN a.latitude IS NULL
        THEN json_build_object('city', a.city, 'lines', to_json(a.lines), 'region', a.region,
                               'country', a.country, 'postal_code', a.postal_code)
        ELSE json_build_object('city', a.city, 'lines', to_json(a.lines), 'region', a.region,
                               'country', a.country, 'latitude', a.latitude,
                               'longitude', a.longitude, 'postal_code', a.postal_code) END $$;

-- p: the member's profile row (NULL when it has none: "profile": null); addresses: the
-- json_object_agg(kind, address_doc_text(a) ORDER BY length(kind), kind COLLATE "C") of its
-- addresses (NULL when none: {}), jsonb's key order.
CREATE FUNCTION member.member_doc_text(m member.members, p member.profiles, addresses json,
                                       staff boolean) RETURNS json
    LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', m.id, 'erased', m.erased_at IS NOT NULL, 'status', m.status,
        'club_id', m.club_id,
        'profile', CASE WHEN p.member_id IS NULL THEN NULL
            WHEN staff THEN json_build_object(
                'email', p.email, 'phone', p.phone, 'language', p.language,
                'last_name', p.last_name, 'photo_url', p.photo_url, 'first_name', p.first_name,
                'staff_notes', p.staff_notes, 'date_of_birth', p.date_of_birth,
                'preferred_name', p.preferred_name)
            ELSE json_build_object(
                'email', p.email, 'phone', p.phone, 'language', p.language,
                'last_name', p.last_name, 'photo_url', p.photo_url, 'first_name', p.first_name,
                'date_of_birth', p.date_of_birth, 'preferred_name', p.preferred_name) END,
        'category', m.category,
        'addresses', coalesce(addresses, '{}'::json), 'joined_on', m.joined_on,
        'created_at', to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'expires_on', m.expires_on,
        'updated_at', to_char(m.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'auth_user_id', m.auth_user_id, 'home_club_id', m.home_club_id,
        'relationship', m.relationship, 'member_number', m.member_number,
        'directory_opt_in', m.directory_opt_in, 'primary_member_id', m.primary_member_id) $$;

REVOKE ALL ON FUNCTION member.address_doc_text(member.addresses),
    member.member_doc_text(member.members, member.profiles, json, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION member.address_doc_text(member.addresses),
    member.member_doc_text(member.members, member.profiles, json, boolean) TO reciprocal_app;
