-- member service: members, profiles, addresses, status history, per-club settings and
-- categories, the card-signing keys and the card validity registry (docs/member.md).
-- Tenancy: every table carries club_id, ENABLE + FORCE ROW LEVEL SECURITY and composite
-- (club_id, ...) keys. Policies admit only rows of core.current_club(); a network administrator
-- gets no cross-club bypass here: it names one club per call and the transaction is scoped to
-- that club. Two tables are readable network-wide on purpose (no personal data): club_keys
-- (public keys for offline card verification) and card_registry (status/expiry of a card
-- holder, for online verification by a host club).
CREATE TYPE member.member_status_enum AS ENUM
    ('pending', 'active', 'suspended', 'lapsed', 'resigned', 'deceased');
GRANT USAGE ON TYPE member.member_status_enum TO reciprocal_app;

-- The lifecycle, in one place: the statuses a member may move to from s.
CREATE FUNCTION member.allowed_next(s member.member_status_enum)
    RETURNS member.member_status_enum[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE s
        WHEN 'pending'   THEN '{active,deceased}'
        WHEN 'active'    THEN '{suspended,lapsed,resigned,deceased}'
        WHEN 'suspended' THEN '{active,resigned,deceased}'
        WHEN 'lapsed'    THEN '{resigned,deceased}'
        WHEN 'resigned'  THEN '{deceased}'
        ELSE '{}' END)::member.member_status_enum[] $$;

CREATE FUNCTION member.builtin_categories() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '{full,social,junior,senior,non-resident,corporate,honorary}'::text[] $$;

-- Per-club settings: member-number pattern ({seq:N} zero-padded counter, {yyyy} year, literal
-- A-Z a-z 0-9 . / -) and the next counter value.
CREATE TABLE member.settings (
    club_id        uuid NOT NULL REFERENCES member.clubs (id),
    number_pattern text NOT NULL DEFAULT 'M{seq:6}'
                   CHECK (number_pattern ~ '^([A-Za-z0-9./-]|\{yyyy\}|\{seq(:[1-9][0-9]?)?\})+$'
                          AND number_pattern ~ '\{seq(:[0-9]+)?\}' AND char_length(number_pattern) <= 40),
    next_seq       bigint NOT NULL DEFAULT 1 CHECK (next_seq >= 1),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (club_id)
);

-- A club's own categories besides the built-in ones.
CREATE TABLE member.categories (
    club_id    uuid NOT NULL REFERENCES member.clubs (id),
    code       text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_-]{0,39}$'),
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (club_id, code)
);

CREATE TABLE member.members (
    club_id           uuid NOT NULL REFERENCES member.clubs (id),
    id                uuid NOT NULL DEFAULT gen_random_uuid(),
    member_number     text NOT NULL CHECK (member_number ~ '^[A-Za-z0-9][A-Za-z0-9./-]{0,39}$'),
    category          text NOT NULL CHECK (char_length(category) BETWEEN 1 AND 40),
    status            member.member_status_enum NOT NULL DEFAULT 'pending',
    joined_on         date NOT NULL DEFAULT current_date,
    expires_on        date,
    home_club_id      uuid NOT NULL REFERENCES member.clubs (id),
    auth_user_id      uuid,
    primary_member_id uuid,
    relationship      text CHECK (relationship IN ('spouse', 'partner', 'child', 'other')),
    directory_opt_in  boolean NOT NULL DEFAULT false,
    erased_at         timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (club_id, id),
    CONSTRAINT members_number_key UNIQUE (club_id, member_number),
    CONSTRAINT members_auth_user_key UNIQUE (club_id, auth_user_id),
    FOREIGN KEY (club_id, primary_member_id) REFERENCES member.members (club_id, id),
    CHECK (primary_member_id IS NULL OR primary_member_id <> id),
    CHECK ((primary_member_id IS NULL) = (relationship IS NULL)),
    CHECK (expires_on IS NULL OR expires_on >= joined_on)
);
CREATE INDEX members_id_idx ON member.members (id);
CREATE INDEX members_created_idx ON member.members (club_id, created_at, id);
CREATE INDEX members_status_idx ON member.members (club_id, status, expires_on);
CREATE INDEX members_primary_idx ON member.members (club_id, primary_member_id)
    WHERE primary_member_id IS NOT NULL;
CREATE INDEX members_number_prefix_idx ON member.members (club_id, lower(member_number) text_pattern_ops);

-- Category must be built in or one of the club's own.
CREATE FUNCTION member.check_category() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.category = ANY (member.builtin_categories()) THEN RETURN NEW; END IF;
    IF EXISTS (SELECT 1 FROM member.categories c
               WHERE c.club_id = NEW.club_id AND c.code = NEW.category) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'category is not a category of this club'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'members_category_check',
              TABLE = 'members', SCHEMA = 'member';
END $$;
CREATE TRIGGER members_category BEFORE INSERT OR UPDATE OF category ON member.members
    FOR EACH ROW EXECUTE FUNCTION member.check_category();

CREATE TABLE member.profiles (
    club_id        uuid NOT NULL,
    member_id      uuid NOT NULL,
    first_name     text NOT NULL CHECK (char_length(first_name) BETWEEN 1 AND 100),
    last_name      text NOT NULL CHECK (char_length(last_name) BETWEEN 1 AND 100),
    preferred_name text CHECK (char_length(preferred_name) BETWEEN 1 AND 100),
    email          text CHECK (char_length(email) <= 254),
    phone          text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    date_of_birth  date,
    photo_url      text CHECK (char_length(photo_url) <= 2048),
    language       text CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    staff_notes    text CHECK (char_length(staff_notes) <= 4000),
    search         tsvector GENERATED ALWAYS AS (to_tsvector('simple',
                       coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' ||
                       coalesce(preferred_name, '') || ' ' || coalesce(email, '') || ' ' ||
                       coalesce(translate(email, '@._+-', '     '), ''))) STORED,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (club_id, member_id),
    FOREIGN KEY (club_id, member_id) REFERENCES member.members (club_id, id)
);
CREATE INDEX profiles_search_idx ON member.profiles USING gin (search);
CREATE INDEX profiles_name_idx ON member.profiles (club_id, lower(last_name) text_pattern_ops);

CREATE TABLE member.addresses (
    club_id     uuid NOT NULL,
    member_id   uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('home', 'work', 'billing')),
    lines       text[] NOT NULL DEFAULT '{}' CHECK (cardinality(lines) <= 4),
    city        text CHECK (char_length(city) <= 100),
    region      text CHECK (char_length(region) <= 100),
    postal_code text CHECK (char_length(postal_code) <= 20),
    country     char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (club_id, member_id, kind),
    FOREIGN KEY (club_id, member_id) REFERENCES member.members (club_id, id)
);

-- Who changed a status, when and why. Append-only (reason can be cleared by erasure).
CREATE TABLE member.status_history (
    club_id     uuid NOT NULL,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    member_id   uuid NOT NULL,
    from_status member.member_status_enum,
    to_status   member.member_status_enum NOT NULL,
    reason      text CHECK (char_length(reason) <= 500),
    changed_by  uuid,
    request_id  text CHECK (char_length(request_id) <= 72),
    cascade_of  uuid,
    changed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (club_id, id),
    FOREIGN KEY (club_id, member_id) REFERENCES member.members (club_id, id)
);
CREATE INDEX status_history_member_idx ON member.status_history (club_id, member_id, changed_at);

-- Audit of privacy-relevant actions (erasure, data export): ids and field names only.
CREATE TABLE member.audit_log (
    club_id    uuid NOT NULL,
    id         uuid NOT NULL DEFAULT gen_random_uuid(),
    member_id  uuid NOT NULL,
    action     text NOT NULL CHECK (action IN ('erase', 'export')),
    actor      uuid,
    request_id text CHECK (char_length(request_id) <= 72),
    fields     text[] NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (club_id, id),
    FOREIGN KEY (club_id, member_id) REFERENCES member.members (club_id, id)
);

-- Card signing keys. The public half is readable network-wide (offline verification); the
-- private half is encrypted with RECIPROCAL_CARD_KEK and readable by its club only.
CREATE TABLE member.club_keys (
    club_id    uuid NOT NULL REFERENCES member.clubs (id),
    kid        text NOT NULL CHECK (kid ~ '^[A-Za-z0-9_-]{1,32}$'),
    public_key bytea NOT NULL CHECK (octet_length(public_key) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (club_id, kid)
);
CREATE TABLE member.club_key_secrets (
    club_id    uuid NOT NULL,
    kid        text NOT NULL,
    secret_enc bytea NOT NULL,
    nonce      bytea NOT NULL,
    PRIMARY KEY (club_id, kid),
    FOREIGN KEY (club_id, kid) REFERENCES member.club_keys (club_id, kid)
);

-- What a host club may learn online about a card holder: status, category, expiry. No names.
CREATE TABLE member.card_registry (
    club_id    uuid NOT NULL,
    member_id  uuid NOT NULL,
    status     member.member_status_enum NOT NULL,
    category   text NOT NULL,
    expires_on date,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (club_id, member_id),
    FOREIGN KEY (club_id, member_id) REFERENCES member.members (club_id, id)
);
CREATE FUNCTION member.sync_card_registry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO member.card_registry (club_id, member_id, status, category, expires_on)
    VALUES (NEW.club_id, NEW.id, NEW.status, NEW.category, NEW.expires_on)
    ON CONFLICT (club_id, member_id) DO UPDATE
        SET status = EXCLUDED.status, category = EXCLUDED.category,
            expires_on = EXCLUDED.expires_on, updated_at = now();
    RETURN NULL;
END $$;
CREATE TRIGGER members_card_registry AFTER INSERT OR UPDATE OF status, category, expires_on
    ON member.members FOR EACH ROW EXECUTE FUNCTION member.sync_card_registry();

-- Status change with cascade to dependents; records history; returns every change made.
-- The caller (C) has checked that p_to is allowed for the member itself.
CREATE FUNCTION member.change_status(p_id uuid, p_to member.member_status_enum, p_reason text,
                                     p_actor uuid, p_request_id text)
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
        ELSIF p_to = 'active' AND d.status = 'suspended' AND (
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

-- The JSON document of a member (staff = 1 adds the staff notes).
CREATE FUNCTION member.member_doc(m member.members, staff boolean) RETURNS jsonb
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

-- Row-level security: every table, own club only (except the two public ones, read-only).
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['settings', 'categories', 'members', 'profiles', 'addresses',
                             'status_history', 'audit_log', 'club_keys', 'club_key_secrets',
                             'card_registry'] LOOP
        EXECUTE format('ALTER TABLE member.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE member.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON member.%I USING (club_id = core.current_club()) '
                       'WITH CHECK (club_id = core.current_club())', t || '_own_club', t);
    END LOOP;
END $$;
CREATE POLICY club_keys_public ON member.club_keys FOR SELECT USING (true);
CREATE POLICY card_registry_public ON member.card_registry FOR SELECT USING (true);

GRANT SELECT, INSERT, UPDATE ON member.settings, member.members, member.profiles,
    member.card_registry TO reciprocal_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON member.categories, member.addresses TO reciprocal_app;
GRANT SELECT, INSERT ON member.status_history, member.audit_log, member.club_keys,
    member.club_key_secrets TO reciprocal_app;
GRANT UPDATE (reason) ON member.status_history TO reciprocal_app;
REVOKE ALL ON FUNCTION member.allowed_next(member.member_status_enum),
    member.builtin_categories(), member.change_status(uuid, member.member_status_enum, text, uuid, text),
    member.member_doc(member.members, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION member.allowed_next(member.member_status_enum),
    member.builtin_categories(), member.change_status(uuid, member.member_status_enum, text, uuid, text),
    member.member_doc(member.members, boolean) TO reciprocal_app;
