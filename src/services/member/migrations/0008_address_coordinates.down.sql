CREATE OR REPLACE FUNCTION member.address_doc(a member.addresses) RETURNS jsonb
    LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('lines', to_jsonb(a.lines), 'city', a.city, 'region', a.region,
                              'postal_code', a.postal_code, 'country', a.country) $$;

ALTER TABLE member.addresses DROP CONSTRAINT addresses_coordinates_together,
    DROP COLUMN longitude, DROP COLUMN latitude;
