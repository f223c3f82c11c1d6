-- 1. member_doc in a form the planner can inline. member.member_doc(m, staff) (0002) reads the
-- profile and the addresses with two sub-selects, so PostgreSQL runs it as a SQL function:
-- per statement it parses, rewrites (RLS) and plans the body again, and per row it starts an
-- executor for it. For a page of 21 members that was ~40% of the database's CPU time.
-- member_doc_of and address_doc have no FROM and no sub-select, so they are inlined into the
-- calling statement (a prepared statement plans them once); the caller joins the profile and
-- aggregates the addresses itself (the list and the by-id read, src/services/member). The
-- document is the same: member_doc is now defined through them.
CREATE FUNCTION member.address_doc(a member.addresses) RETURNS jsonb
    LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('lines', to_jsonb(a.lines), 'city', a.city, 'region', a.region,
                              'postal_code', a.postal_code, 'country', a.country) $$;

-- p: the member's profile row (NULL when it has none: "profile": null); addresses: the
-- jsonb_object_agg(kind, address_doc(a)) of its addresses (NULL when none: {}).
CREATE FUNCTION member.member_doc_of(m member.members, p member.profiles, addresses jsonb,
                                     staff boolean) RETURNS jsonb
    LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', m.id, 'club_id', m.club_id, 'member_number', m.member_number,
        'category', m.category, 'status', m.status, 'joined_on', m.joined_on,
        'expires_on', m.expires_on, 'home_club_id', m.home_club_id,
        'auth_user_id', m.auth_user_id, 'primary_member_id', m.primary_member_id,
        'relationship', m.relationship, 'directory_opt_in', m.directory_opt_in,
        'erased', m.erased_at IS NOT NULL,
        'created_at', to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'updated_at', to_char(m.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'profile', CASE WHEN p.member_id IS NULL THEN NULL ELSE jsonb_build_object(
                'first_name', p.first_name, 'last_name', p.last_name,
                'preferred_name', p.preferred_name, 'email', p.email, 'phone', p.phone,
                'date_of_birth', p.date_of_birth, 'photo_url', p.photo_url,
                'language', p.language)
                || CASE WHEN staff THEN jsonb_build_object('staff_notes', p.staff_notes)
                        ELSE '{}'::jsonb END END,
        'addresses', coalesce(addresses, '{}'::jsonb)) $$;

CREATE OR REPLACE FUNCTION member.member_doc(m member.members, staff boolean) RETURNS jsonb
    LANGUAGE sql STABLE AS $$
    SELECT member.member_doc_of(m,
        (SELECT p FROM member.profiles p WHERE p.club_id = m.club_id AND p.member_id = m.id),
        (SELECT jsonb_object_agg(a.kind, member.address_doc(a)) FROM member.addresses a
            WHERE a.club_id = m.club_id AND a.member_id = m.id),
        staff) $$;

REVOKE ALL ON FUNCTION member.address_doc(member.addresses),
    member.member_doc_of(member.members, member.profiles, jsonb, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION member.address_doc(member.addresses),
    member.member_doc_of(member.members, member.profiles, jsonb, boolean) TO reciprocal_app;

-- 2. The name sort key as a stored column, indexed per club. sort=name (lower(last, first) in
-- the C collation, then id) sorted the whole club for every page (~270 ms of CPU at 100,000
-- members). With the key a plain column, the listing walks (club_id, name_key, member_id) and
-- the keyset cursor (name_key, member_id) > ($key, $id) is an index condition under RLS (text
-- and uuid comparisons are leakproof; lower() and || are not, so an expression index could
-- give the order but not the cursor: a later page walked the index from its start).
ALTER TABLE member.profiles ADD COLUMN name_key text COLLATE "C"
    GENERATED ALWAYS AS (lower(last_name || ' ' || first_name)) STORED;
CREATE INDEX profiles_name_key_idx ON member.profiles (club_id, name_key, member_id);
