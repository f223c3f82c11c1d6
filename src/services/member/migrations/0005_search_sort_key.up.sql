-- member service: the default sort key on the search word table, so that a text search walks
-- only the index. A search lists its matches in the listing's default order (created_at, id);
-- before this, every match (e.g. 1,600 of 100,000 members for a three-letter prefix) was
-- looked up in members (and profiles) just to sort them, and only then cut to one page. With
-- created_at copied into search_words and carried in the primary key index (INCLUDE), the
-- matches and their sort key come from one index-only range scan; they are sorted there and
-- only the page's members are read. The copy is kept by the same statement-level triggers:
-- a word row takes its member's created_at (members are inserted before their profiles), and
-- a change of members.created_at (never made by the service, but possible) is copied over.
ALTER TABLE member.search_words ADD COLUMN created_at timestamptz;

-- Existing rows, one club at a time (the policies admit the current club only).
DO $$
DECLARE c uuid;
BEGIN
    FOR c IN SELECT id FROM member.clubs LOOP
        PERFORM set_config('app.club_id', c::text, true);
        UPDATE member.search_words w SET created_at = m.created_at FROM member.members m
            WHERE w.club_id = c AND m.club_id = c AND m.id = w.member_id;
    END LOOP;
    PERFORM set_config('app.club_id', '', true);
END $$;

ALTER TABLE member.search_words ALTER COLUMN created_at SET NOT NULL;
ALTER TABLE member.search_words DROP CONSTRAINT search_words_pkey,
    ADD CONSTRAINT search_words_pkey PRIMARY KEY (club_id, kind, word, member_id)
        INCLUDE (created_at);
-- only the trigger below changes it (as the caller); the key columns stay read-only
GRANT UPDATE (created_at) ON member.search_words TO reciprocal_app;

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

CREATE OR REPLACE FUNCTION member.search_words_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        UPDATE member.search_words w SET created_at = n.created_at FROM new_rows n, old_rows o
            WHERE o.club_id = n.club_id AND o.id = n.id AND o.created_at <> n.created_at
              AND w.club_id = n.club_id AND w.member_id = n.id;
        DELETE FROM member.search_words w USING new_rows n, old_rows o
            WHERE o.club_id = n.club_id AND o.id = n.id AND o.member_number <> n.member_number
              AND w.club_id = n.club_id AND w.member_id = n.id AND w.kind = 'n';
        INSERT INTO member.search_words (club_id, member_id, kind, word, created_at)
            SELECT n.club_id, n.id, 'n', lower(n.member_number), n.created_at
            FROM new_rows n, old_rows o
            WHERE o.club_id = n.club_id AND o.id = n.id AND o.member_number <> n.member_number;
    ELSE
        INSERT INTO member.search_words (club_id, member_id, kind, word, created_at)
            SELECT n.club_id, n.id, 'n', lower(n.member_number), n.created_at FROM new_rows n;
    END IF;
    RETURN NULL;
END $$;
