SELECT core.drop_outbox('auth');
DROP FUNCTION auth.token_club(text, text);
DROP TABLE auth.throttle, auth.signing_keys, auth.audit, auth.recovery_codes, auth.mfa_totp,
    auth.one_time_tokens, auth.refresh_tokens, auth.sessions, auth.user_roles, auth.users;
DROP SCHEMA auth;
