-- member service: renewal (lapsed -> active, expiry extension), per-club card lifetime and
-- card-key rotation (docs/member.md).

-- Lifecycle: a lapsed member who renews becomes active again.
CREATE OR REPLACE FUNCTION member.allowed_next(s member.member_status_enum)
    RETURNS member.member_status_enum[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE s
        WHEN 'pending'   THEN '{active,deceased}'
        WHEN 'active'    THEN '{suspended,lapsed,resigned,deceased}'
        WHEN 'suspended' THEN '{active,resigned,deceased}'
        WHEN 'lapsed'    THEN '{active,resigned,deceased}'
        WHEN 'resigned'  THEN '{deceased}'
        ELSE '{}' END)::member.member_status_enum[] $$;

-- Cascade on reactivation: dependents suspended OR lapsed by the cascade of this primary come
-- back with it (a dependent suspended or lapsed on its own stays so).
CREATE OR REPLACE FUNCTION member.change_status(p_id uuid, p_to member.member_status_enum,
                                                p_reason text, p_actor uuid, p_request_id text)
    RETURNS TABLE (member_id uuid, from_status member.member_status_enum,
                   to_status member.member_status_enum, cascade_of uuid)
    LANGUAGE plpgsql AS $$
DECLARE
    cur member.member_status_enum;
    club uuid;
    d record;
    dep_to member.member_status_enum;
BEGIN
    SELECT m.status, m.club_id INTO cur, club FROM member.members m
        WHERE m.id = p_id AND m.club_id = core.current_club() FOR UPDATE;
    IF NOT FOUND THEN RETURN; END IF;
    UPDATE member.members m SET status = p_to, updated_at = now()
        WHERE m.club_id = club AND m.id = p_id;
    INSERT INTO member.status_history (club_id, member_id, from_status, to_status, reason,
                                       changed_by, request_id)
        VALUES (club, p_id, cur, p_to, p_reason, p_actor, p_request_id);
    member_id := p_id; from_status := cur; to_status := p_to; cascade_of := NULL;
    RETURN NEXT;
    FOR d IN SELECT m.id, m.status FROM member.members m
             WHERE m.club_id = club AND m.primary_member_id = p_id ORDER BY m.id FOR UPDATE LOOP
        dep_to := NULL;
        IF p_to IN ('suspended', 'lapsed') AND d.status = 'active' THEN
            dep_to := p_to;
        ELSIF p_to IN ('resigned', 'deceased') AND d.status IN ('active', 'suspended', 'lapsed') THEN
            dep_to := 'resigned';
        ELSIF p_to = 'active' AND d.status = 'pending' THEN
            dep_to := 'active';
        ELSIF p_to = 'active' AND d.status IN ('suspended', 'lapsed') AND (
                SELECT h.cascade_of FROM member.status_history h
                WHERE h.club_id = club AND h.member_id = d.id
                ORDER BY h.changed_at DESC LIMIT 1) = p_id THEN
            dep_to := 'active';
        END IF;
        CONTINUE WHEN dep_to IS NULL;
        UPDATE member.members m SET status = dep_to, updated_at = now()
            WHERE m.club_id = club AND m.id = d.id;
        INSERT INTO member.status_history (club_id, member_id, from_status, to_status, reason,
                                           changed_by, request_id, cascade_of)
            VALUES (club, d.id, d.status, dep_to, 'follows primary member', p_actor,
                    p_request_id, p_id);
        member_id := d.id; from_status := d.status; to_status := dep_to; cascade_of := p_id;
        RETURN NEXT;
    END LOOP;
END $$;

-- Renewals are audited next to erasure and data export.
ALTER TABLE member.audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE member.audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('erase', 'export', 'renew'));

-- Per-club card token lifetime (NULL = RECIPROCAL_CARD_TTL_SECONDS).
ALTER TABLE member.settings ADD COLUMN card_ttl_seconds integer
    CHECK (card_ttl_seconds BETWEEN 60 AND 604800);

-- Card-key rotation: a retired key is still published (and verifies) until the last token
-- signed with it has expired.
ALTER TABLE member.club_keys ADD COLUMN retired_at timestamptz;
ALTER TABLE member.club_keys ADD COLUMN last_token_expires_at timestamptz;
GRANT UPDATE (retired_at, last_token_expires_at) ON member.club_keys TO reciprocal_app;
