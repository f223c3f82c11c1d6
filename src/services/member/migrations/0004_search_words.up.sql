-- member service: text search that can use an index under FORCE ROW LEVEL SECURITY.
-- With RLS, a query's own conditions that are not leakproof run after the policy and cannot be
-- index conditions: the full-text match (@@, ts_match_vq) and LIKE are not leakproof, so the GIN
-- index on profiles.search was never used and every search read the whole club. Plain text
-- comparisons (=, >=, <) are leakproof, so search now runs on a word table with a btree:
-- one row per distinct lower-case word of first/last/preferred name and email (split at
-- non-alphanumerics), kind 'w', and the lower-case member number, kind 'n'. A prefix p is the
-- range word >= p AND word < p || U+10FFFF in the C collation. Maintained by statement-level
-- triggers (transition tables), so a 10,000-row import adds one INSERT ... SELECT.
CREATE TABLE member.search_words (
    club_id   uuid NOT NULL,
    member_id uuid NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('w', 'n')),
    word      text COLLATE "C" NOT NULL CHECK (char_length(word) BETWEEN 1 AND 254),
    PRIMARY KEY (club_id, kind, word, member_id),
    FOREIGN KEY (club_id, member_id) REFERENCES member.members (club_id, id)
);
CREATE INDEX search_words_member_idx ON member.search_words (club_id, member_id);
ALTER TABLE member.search_words ENABLE ROW LEVEL SECURITY;
ALTER TABLE member.search_words FORCE ROW LEVEL SECURITY;
CREATE POLICY search_words_own_club ON member.search_words
    USING (club_id = core.current_club()) WITH CHECK (club_id = core.current_club());
GRANT SELECT, INSERT, DELETE ON member.search_words TO reciprocal_app;

CREATE FUNCTION member.search_words_profiles() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER profiles_search_words_ins AFTER INSERT ON member.profiles
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION member.search_words_profiles();
CREATE TRIGGER profiles_search_words_upd AFTER UPDATE ON member.profiles
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION member.search_words_profiles();

CREATE FUNCTION member.search_words_members() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER members_search_words_ins AFTER INSERT ON member.members
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION member.search_words_members();
CREATE TRIGGER members_search_words_upd AFTER UPDATE ON member.members
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION member.search_words_members();

-- The GIN index cannot be used under RLS (above) and only costs writes.
DROP INDEX member.profiles_search_idx;

-- Existing members, one club at a time (the policies admit the current club only).
DO $$
DECLARE c uuid;
BEGIN
    FOR c IN SELECT id FROM member.clubs LOOP
        PERFORM set_config('app.club_id', c::text, true);
        INSERT INTO member.search_words (club_id, member_id, kind, word)
            SELECT m.club_id, m.id, 'n', lower(m.member_number) FROM member.members m
            WHERE m.club_id = c;
        INSERT INTO member.search_words (club_id, member_id, kind, word)
            SELECT DISTINCT p.club_id, p.member_id, 'w', x.w
            FROM member.profiles p, LATERAL regexp_split_to_table(lower(concat_ws(' ',
                p.first_name, p.last_name, p.preferred_name, p.email)), '[^[:alnum:]]+') AS x(w)
            WHERE p.club_id = c AND x.w <> '' AND char_length(x.w) <= 254;
    END LOOP;
    PERFORM set_config('app.club_id', '', true);
END $$;
