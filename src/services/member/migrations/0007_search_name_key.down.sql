CREATE OR REPLACE FUNCTION member.search_words_profiles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM member.search_words w USING new_rows n
            WHERE w.club_id = n.club_id AND w.member_id = n.member_id AND w.kind = 'w';
    END IF;
    INSERT INTO member.search_words (club_id, member_id, kind, word, created_at)
        SELECT DISTINCT n.club_id, n.member_id, 'w', x.w, m.created_at
        FROM new_rows n
        JOIN member.members m ON m.club_id = n.club_id AND m.id = n.member_id,
        LATERAL regexp_split_to_table(lower(concat_ws(' ', n.first_name,
            n.last_name, n.preferred_name, n.email)), '[^[:alnum:]]+') AS x(w)
        WHERE x.w <> '' AND char_length(x.w) <= 254;
    RETURN NULL;
END $$;

ALTER TABLE member.search_words DROP CONSTRAINT search_words_pkey,
    ADD CONSTRAINT search_words_pkey PRIMARY KEY (club_id, kind, word, member_id)
        INCLUDE (created_at);
ALTER TABLE member.search_words DROP COLUMN name_key;
