-- member service: the clubs of the network (the tenants themselves).
CREATE SCHEMA member;
GRANT USAGE ON SCHEMA member TO reciprocal_app;

CREATE TABLE member.clubs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    slug          text NOT NULL CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    timezone      text NOT NULL CHECK (char_length(timezone) BETWEEN 1 AND 64),
    address_lines text[] NOT NULL DEFAULT '{}' CHECK (cardinality(address_lines) <= 4),
    city          text CHECK (char_length(city) <= 100),
    region        text CHECK (char_length(region) <= 100),
    postal_code   text CHECK (char_length(postal_code) <= 20),
    country       char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    latitude      double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude     double precision CHECK (longitude BETWEEN -180 AND 180),
    contact_email text CHECK (char_length(contact_email) <= 254),
    contact_phone text CHECK (contact_phone ~ '^\+[1-9][0-9]{6,14}$'),
    website       text CHECK (char_length(website) <= 2048),
    facilities    text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT clubs_slug_key UNIQUE (slug),
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);
CREATE INDEX clubs_created_idx ON member.clubs (created_at, id);
CREATE INDEX clubs_country_idx ON member.clubs (country, created_at, id);
CREATE INDEX clubs_facilities_idx ON member.clubs USING gin (facilities);

-- The clubs table is the tenant registry: every club's public directory entry is readable
-- network-wide; only a network administrator creates clubs; a club (or a network administrator)
-- updates its own row; nobody deletes (clubs are deactivated).
ALTER TABLE member.clubs ENABLE ROW LEVEL SECURITY;
ALTER TABLE member.clubs FORCE ROW LEVEL SECURITY;
CREATE POLICY clubs_read ON member.clubs FOR SELECT USING (true);
CREATE POLICY clubs_create ON member.clubs FOR INSERT WITH CHECK (core.is_network_admin());
CREATE POLICY clubs_update ON member.clubs FOR UPDATE
    USING (core.is_network_admin() OR id = core.current_club())
    WITH CHECK (core.is_network_admin() OR id = core.current_club());
GRANT SELECT, INSERT, UPDATE ON member.clubs TO reciprocal_app;

SELECT core.create_outbox('member');
