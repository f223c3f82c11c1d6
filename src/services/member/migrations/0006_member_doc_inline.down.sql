DROP INDEX member.profiles_name_key_idx;
ALTER TABLE member.profiles DROP COLUMN name_key;

-- member_doc as in 0002; drop the inlinable forms.
CREATE OR REPLACE FUNCTION member.member_doc(m member.members, staff boolean) RETURNS jsonb
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
        'profile', (SELECT jsonb_build_object(
                'first_name', p.first_name, 'last_name', p.last_name,
                'preferred_name', p.preferred_name, 'email', p.email, 'phone', p.phone,
                'date_of_birth', p.date_of_birth, 'photo_url', p.photo_url,
                'language', p.language)
                || CASE WHEN staff THEN jsonb_build_object('staff_notes', p.staff_notes)
                        ELSE '{}'::jsonb END
            FROM member.profiles p WHERE p.club_id = m.club_id AND p.member_id = m.id),
        'addresses', coalesce((SELECT jsonb_object_agg(a.kind, jsonb_build_object(
                'lines', to_jsonb(a.lines), 'city', a.city, 'region', a.region,
                'postal_code', a.postal_code, 'country', a.country))
            FROM member.addresses a WHERE a.club_id = m.club_id AND a.member_id = m.id),
            '{}'::jsonb)) $$;

DROP FUNCTION member.member_doc_of(member.members, member.profiles, jsonb, boolean);
DROP FUNCTION member.address_doc(member.addresses);
