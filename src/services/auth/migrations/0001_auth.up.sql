-- auth service: accounts, roles, signing keys, sessions and refresh-token families, one-time
-- tokens (invitation, email verification, password reset, MFA challenge), TOTP enrolment and
-- recovery codes, login throttling and the audit log. See docs/auth.md.
--
-- Tenancy: every tenant table has club_id NOT NULL, composite (club_id, ...) keys and FORCE RLS
-- with the usual policy (rows of core.current_club(), or any row for a network administrator).
-- Network administrators belong to no club: their rows carry the reserved "network" tenant id
-- 00000000-0000-0000-0000-000000000000 (no club can have it: member.clubs ids are random v4
-- UUIDs), so they are visible only in that scope or to a network administrator.
--
-- Login happens before the caller has a scope: the service resolves the scope first (the club
-- slug through the public member.clubs directory, or the network tenant for a global login)
-- and then reads the user in that club's scope only. Flows that start from an opaque token
-- (refresh, invite, email verification, password reset, MFA challenge) resolve the token's
-- club with auth.token_club(), a SECURITY DEFINER function that returns one uuid for one
-- token hash and nothing else; the rest of the flow runs in that club's scope.
CREATE SCHEMA auth;
GRANT USAGE ON SCHEMA auth TO reciprocal_app;

CREATE TABLE auth.users (
    club_id           uuid NOT NULL,
    id                uuid NOT NULL DEFAULT gen_random_uuid(),
    email             text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    status            text NOT NULL DEFAULT 'invited'
                      CHECK (status IN ('invited', 'active', 'disabled')),
    password_hash     text CHECK (char_length(password_hash) <= 256),
    email_verified_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (club_id, id)
);
CREATE UNIQUE INDEX users_email_key ON auth.users (club_id, lower(email));

CREATE TABLE auth.user_roles (
    club_id    uuid NOT NULL,
    user_id    uuid NOT NULL,
    role       text NOT NULL CHECK (role IN ('network_admin', 'club_admin', 'club_staff', 'member')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    granted_by uuid,
    PRIMARY KEY (club_id, user_id, role),
    FOREIGN KEY (club_id, user_id) REFERENCES auth.users (club_id, id) ON DELETE CASCADE,
    -- network_admin only in the network tenant, club roles only in a club
    CHECK ((role = 'network_admin') = (club_id = '00000000-0000-0000-0000-000000000000'))
);

-- A session is one refresh-token family: one login on one device.
CREATE TABLE auth.sessions (
    club_id        uuid NOT NULL,
    id             uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id        uuid NOT NULL,
    user_agent     text CHECK (char_length(user_agent) <= 256),
    ip             text CHECK (char_length(ip) <= 64),
    mfa            boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,            -- absolute lifetime
    revoked_at     timestamptz,
    revoked_reason text CHECK (char_length(revoked_reason) <= 64),
    PRIMARY KEY (club_id, id),
    FOREIGN KEY (club_id, user_id) REFERENCES auth.users (club_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user_idx ON auth.sessions (club_id, user_id, created_at);

-- Refresh tokens: SHA-256 of 256 random bits, hex. used_at is set when the token is rotated; a
-- token presented again after that is a reuse and revokes its session (the family).
CREATE TABLE auth.refresh_tokens (
    club_id    uuid NOT NULL,
    id         uuid NOT NULL DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL,
    token_hash text NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at    timestamptz,
    PRIMARY KEY (club_id, id),
    UNIQUE (club_id, token_hash),
    FOREIGN KEY (club_id, session_id) REFERENCES auth.sessions (club_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_hash_idx ON auth.refresh_tokens (token_hash);

-- Single-use, expiring tokens, stored hashed like refresh tokens.
CREATE TABLE auth.one_time_tokens (
    club_id    uuid NOT NULL,
    id         uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL,
    purpose    text NOT NULL
               CHECK (purpose IN ('invite', 'verify_email', 'reset_password', 'mfa_challenge')),
    token_hash text NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    attempts   int NOT NULL DEFAULT 0,
    PRIMARY KEY (club_id, id),
    UNIQUE (club_id, token_hash),
    FOREIGN KEY (club_id, user_id) REFERENCES auth.users (club_id, id) ON DELETE CASCADE
);
CREATE INDEX one_time_tokens_hash_idx ON auth.one_time_tokens (token_hash);

-- TOTP enrolment: the secret encrypted with the key-encryption key (RECIPROCAL_AUTH_KEK,
-- libsodium secretbox: nonce || ciphertext), last accepted time step (replay refusal),
-- confirmed once a first code was given; the per-user salt of the recovery-code hashes.
CREATE TABLE auth.mfa_totp (
    club_id       uuid NOT NULL,
    user_id       uuid NOT NULL,
    secret_enc    bytea NOT NULL,
    last_step     bigint NOT NULL DEFAULT -1,
    confirmed_at  timestamptz,
    recovery_salt bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (club_id, user_id),
    FOREIGN KEY (club_id, user_id) REFERENCES auth.users (club_id, id) ON DELETE CASCADE
);

CREATE TABLE auth.recovery_codes (
    club_id   uuid NOT NULL,
    user_id   uuid NOT NULL,
    code_hash bytea NOT NULL CHECK (octet_length(code_hash) = 32),
    PRIMARY KEY (club_id, user_id, code_hash),
    FOREIGN KEY (club_id, user_id) REFERENCES auth.mfa_totp (club_id, user_id) ON DELETE CASCADE
);

CREATE TABLE auth.audit (
    club_id    uuid NOT NULL,
    id         uuid NOT NULL DEFAULT gen_random_uuid(),
    at         timestamptz NOT NULL DEFAULT now(),
    actor_id   uuid,
    user_id    uuid,
    action     text NOT NULL CHECK (char_length(action) <= 64),
    ip         text CHECK (char_length(ip) <= 64),
    detail     jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (club_id, id)
);
CREATE INDEX audit_at_idx ON auth.audit (club_id, at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'user_roles', 'sessions', 'refresh_tokens',
                             'one_time_tokens', 'mfa_totp', 'recovery_codes', 'audit'] LOOP
        EXECUTE format('ALTER TABLE auth.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE auth.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON auth.%I '
                       'USING (club_id = core.current_club() OR core.is_network_admin()) '
                       'WITH CHECK (club_id = core.current_club() OR core.is_network_admin())', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.users, auth.user_roles, auth.sessions,
    auth.refresh_tokens, auth.one_time_tokens, auth.mfa_totp, auth.recovery_codes TO reciprocal_app;
GRANT SELECT, INSERT ON auth.audit TO reciprocal_app;

-- Not tenant data: the public keys are published to everyone, the private keys are encrypted
-- with the key-encryption key. RLS stays enabled and forced (every table has it) with a policy
-- that admits the application role; nobody deletes keys (retired ones stay for the record).
CREATE TABLE auth.signing_keys (
    kid             text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{22}$'),
    public_jwk      jsonb NOT NULL,
    private_key_enc bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    retired_at      timestamptz          -- no longer signs; published until retired_at + TTL
);
ALTER TABLE auth.signing_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.signing_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY signing_keys_app ON auth.signing_keys TO reciprocal_app USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON auth.signing_keys TO reciprocal_app;
GRANT UPDATE (retired_at) ON auth.signing_keys TO reciprocal_app;

-- Login throttling: counters keyed by SHA-256 of (scope, kind, subject), e.g. an account
-- (club + lower(email)) or a client IP, whether or not the account exists. Opaque hashes, not
-- tenant data; the policy admits the application role.
CREATE TABLE auth.throttle (
    key_hash        text PRIMARY KEY CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    failures        int NOT NULL DEFAULT 0,
    last_failure_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz
);
ALTER TABLE auth.throttle ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.throttle FORCE ROW LEVEL SECURITY;
CREATE POLICY throttle_app ON auth.throttle TO reciprocal_app USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.throttle TO reciprocal_app;

-- The club of an opaque token (refresh or one-time), given the SHA-256 hex of the token; NULL
-- when unknown. Runs as the owner and turns app.network_admin on for its one query only (then
-- puts the previous value back); returns nothing but the club id, so it exposes nothing to
-- someone who does not hold the token.
CREATE FUNCTION auth.token_club(kind text, hash text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    prev text := current_setting('app.network_admin', true);
    club uuid;
BEGIN
    PERFORM set_config('app.network_admin', 'on', true);
    SELECT t.club_id INTO club FROM (
        SELECT r.club_id FROM auth.refresh_tokens r WHERE kind = 'refresh' AND r.token_hash = hash
        UNION ALL
        SELECT o.club_id FROM auth.one_time_tokens o WHERE o.purpose = kind AND o.token_hash = hash
    ) t LIMIT 1;
    PERFORM set_config('app.network_admin', coalesce(prev, 'off'), true);
    RETURN club;
END
$$;
REVOKE ALL ON FUNCTION auth.token_club(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.token_club(text, text) TO reciprocal_app;

SELECT core.create_outbox('auth');
