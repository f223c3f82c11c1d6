-- member service: the name sort key on the search word table, so that a search sorted by
-- name (sort=name / -name) walks only the index, as 0005 did for the default order. Before,
-- each match (1,613 of 100,000 members for q=lov) was read from members and profiles by
-- primary key just to sort the matches on profiles.name_key, then cut to one page. With
-- name_key copied into search_words and carried in the primary key index (INCLUDE), the
-- matches and their name key come from one index-only range scan; they are sorted there and
-- only the page's members are read. The copy is kept by the profiles trigger: the profile's
-- word rows (kind 'w', written from the profile and rewritten when it changes) take its
-- name_key (a stored generated column, so the transition table has it). Member number rows
-- (kind 'n', written by the members trigger, when the profile may not exist yet) keep NULL:
-- a search by name looks their name key up in profiles (they are few for a selective prefix).
-- (Keeping them in sync as well, with an UPDATE of the 'n' rows from the profiles trigger
-- and a profile lookup in the members trigger, made the 10,000-row imports of make bench take
-- 13-55 s instead of 3 s, on tables not yet analyzed.)
ALTER TABLE member.search_words ADD COLUMN name_key text COLLATE "C";

-- Existing rows, one club at a time (the policies admit the current club only).
DO $$
DECLARE c uuid;
BEGIN
    FOR c IN SELECT id FROM member.clubs LOOP
        PERFORM set_config('app.club_id', c::text, true);
        UPDATE member.search_words w SET name_key = p.name_key FROM member.profiles p
            WHERE w.club_id = c AND w.kind = 'w' AND p.club_id = c
              AND p.member_id = w.member_id;
    END LOOP;
    PERFORM set_config('app.club_id', '', true);
END $$;

ALTER TABLE member.search_words DROP CONSTRAINT search_words_pkey,
    ADD CONSTRAINT search_words_pkey PRIMARY KEY (club_id, kind, word, member_id)
        INCLUDE (created_at, name_key);

CREATE OR REPLACE FUNCTION member.search_words_profiles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM member.search_words w USING new_rows n
            WHERE w.club_id = n.club_id AND w.member_id = n.member_id AND w.kind = 'w';
    END IF;
    INSERT INTO member.search_words (club_id, member_id, kind, word, created_at, name_key)
        SELECT DISTINCT n.club_id, n.member_id, 'w', x.w, m.created_at, n.name_key
        FROM new_rows n
        JOIN member.members m ON m.club_id = n.club_id AND m.id = n.member_id,
        LATERAL regexp_split_to_table(lower(concat_ws(' ', n.first_name,
            n.last_name, n.preferred_name, n.email)), '[^[:alnum:]]+') AS x(w)
        WHERE x.w <> '' AND char_length(x.w) <= 254;
    RETURN NULL;
END $$;
