-- change_status keeps the 0003 cascade (a superset of 0002: lapsed dependents also return).
REVOKE UPDATE (retired_at, last_token_expires_at) ON member.club_keys FROM reciprocal_app;
ALTER TABLE member.club_keys DROP COLUMN last_token_expires_at;
ALTER TABLE member.club_keys DROP COLUMN retired_at;
ALTER TABLE member.settings DROP COLUMN card_ttl_seconds;
DELETE FROM member.audit_log WHERE action = 'renew';
ALTER TABLE member.audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE member.audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('erase', 'export'));
CREATE OR REPLACE FUNCTION member.allowed_next(s member.member_status_enum)
    RETURNS member.member_status_enum[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE s
        WHEN 'pending'   THEN '{active,deceased}'
        WHEN 'active'    THEN '{suspended,lapsed,resigned,deceased}'
        WHEN 'suspended' THEN '{active,resigned,deceased}'
        WHEN 'lapsed'    THEN '{resigned,deceased}'
        WHEN 'resigned'  THEN '{deceased}'
        ELSE '{}' END)::member.member_status_enum[] $$;
