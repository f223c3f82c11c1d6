CREATE OR REPLACE FUNCTION member.search_words_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM member.search_words w USING new_rows n, old_rows o
            WHERE o.club_id = n.club_id AND o.id = n.id AND o.member_number <> n.member_number
              AND w.club_id = n.club_id AND w.member_id = n.id AND w.kind = 'n';
        INSERT INTO member.search_words (club_id, member_id, kind, word)
            SELECT n.club_id, n.id, 'n', lower(n.member_number) FROM new_rows n, old_rows o
            WHERE o.club_id = n.club_id AND o.id = n.id AND o.member_number <> n.member_number;
    ELSE
        INSERT INTO member.search_words (club_id, member_id, kind, word)
            SELECT n.club_id, n.id, 'n', lower(n.member_number) FROM new_rows n;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION member.search_words_profiles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM member.search_words w USING new_rows n
            WHERE w.club_id = n.club_id AND w.member_id = n.member_id AND w.kind = 'w';
    END IF;
    INSERT INTO member.search_words (club_id, member_id, kind, word)
        SELECT DISTINCT n.club_id, n.member_id, 'w', x.w
        FROM new_rows n, LATERAL regexp_split_to_table(lower(concat_ws(' ', n.first_name,
            n.last_name, n.preferred_name, n.email)), '[^[:alnum:]]+') AS x(w)
        WHERE x.w <> '' AND char_length(x.w) <= 254;
    RETURN NULL;
END $$;

REVOKE UPDATE (created_at) ON member.search_words FROM reciprocal_app;
ALTER TABLE member.search_words DROP CONSTRAINT search_words_pkey,
    ADD CONSTRAINT search_words_pkey PRIMARY KEY (club_id, kind, word, member_id);
ALTER TABLE member.search_words DROP COLUMN created_at;
