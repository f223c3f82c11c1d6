-- member service: optional coordinates of an address (latitude, longitude in degrees, WGS 84),
-- given together or not at all; an address's document shows them only when set. The reciprocal service's residency rule measures the distance
-- from a member's home address to a host club with them (member_standing answers them in
-- `home`); without them it compares city and country (docs/reciprocal.md "Residency").
ALTER TABLE member.addresses
    ADD COLUMN latitude double precision CHECK (latitude BETWEEN -90 AND 90),
    ADD COLUMN longitude double precision CHECK (longitude BETWEEN -180 AND 180),
    ADD CONSTRAINT addresses_coordinates_together CHECK ((latitude IS NULL) = (longitude IS NULL));

CREATE OR REPLACE FUNCTION member.address_doc(a member.addresses) RETURNS jsonb
    LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('lines', to_jsonb(a.lines), 'city', a.city, 'region', a.region,
                              'postal_code', a.postal_code, 'country', a.country)
        || CASE WHEN a.latitude IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('latitude', a.latitude, 'longitude', a.longitude) END $$;
