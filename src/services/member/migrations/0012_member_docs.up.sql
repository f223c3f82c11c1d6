-- member service: the member document stored, kept in sync on write (issue 16). The list, every
-- search and the by-id read answered member_doc_text(m, p, addresses, staff) (0010), built per
-- row on every read: for a page of 21 that was ~95 % of PostgreSQL's CPU of the request (the
-- addresses sub-select ~30 % of each document). Members are read far more often than written,
-- so the staff view of the document (the one every list and search answers) is written once per
-- change instead, as the text member_doc_text prints, and a read sends that text as it is.
--
-- member_docs has one row per member that has a profile (every member: the profile is inserted
-- with it), doc = member_doc_text(m, p, <its addresses as member_doc_text takes them>, true)::text.
-- Statement-level triggers (transition tables, set-based like search_words') rewrite the
-- documents of the members a statement touched: INSERT/UPDATE of profiles, UPDATE of members,
-- INSERT/UPDATE/DELETE of addresses; a deleted profile deletes its document. A rewrite that
-- yields the same text writes nothing. They run as the caller, under the same policy as every
-- member table (the caller's club only). The readers (src/services/member: M_DOC_STORED) join
-- member_docs instead of building the document; a non-staff read (a member's own record, no
-- staff_notes) still builds it. A migration that changes member_doc_text or address_doc_text
-- must rewrite every document: SELECT member.member_docs_write(...) per club, as below.
CREATE TABLE member.member_docs (
    club_id   uuid NOT NULL,
    member_id uuid NOT NULL,
    doc       text NOT NULL,
    PRIMARY KEY (club_id, member_id),
    FOREIGN KEY (club_id, member_id) REFERENCES member.members (club_id, id) ON DELETE CASCADE
) WITH (fillfactor = 80); -- room for HOT updates: a document changes with every write
ALTER TABLE member.member_docs ENABLE ROW LEVEL SECURITY;
ALTER TABLE member.member_docs FORCE ROW LEVEL SECURITY;
CREATE POLICY member_docs_own_club ON member.member_docs
    USING (club_id = core.current_club()) WITH CHECK (club_id = core.current_club());
-- written only by the triggers below (as the caller), read by the list, searches and reads
GRANT SELECT, INSERT, UPDATE, DELETE ON member.member_docs TO reciprocal_app;

-- Rewrites the documents of the members (clubs[i], ids[i]) (duplicates allowed) that have a
-- profile, from their current rows.
CREATE FUNCTION member.member_docs_write(clubs uuid[], ids uuid[]) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO member.member_docs AS d (club_id, member_id, doc)
        SELECT m.club_id, m.id, member.member_doc_text(m, p,
            (SELECT json_object_agg(a.kind, member.address_doc_text(a)
                    ORDER BY length(a.kind), a.kind COLLATE "C")
                FROM member.addresses a WHERE a.club_id = m.club_id AND a.member_id = m.id),
            true)::text
        FROM (SELECT DISTINCT u.c, u.i FROM unnest(clubs, ids) AS u(c, i)) u
        JOIN member.members m ON m.club_id = u.c AND m.id = u.i
        JOIN member.profiles p ON p.club_id = m.club_id AND p.member_id = m.id
        ON CONFLICT (club_id, member_id) DO UPDATE SET doc = EXCLUDED.doc
            WHERE d.doc IS DISTINCT FROM EXCLUDED.doc;
END $$;

-- (A statement trigger fires for statements that changed no row too, e.g. a member created
-- without addresses: then there is nothing to write.)
CREATE FUNCTION member.member_docs_members() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE clubs uuid[]; ids uuid[];
BEGIN
    SELECT array_agg(n.club_id), array_agg(n.id) INTO clubs, ids FROM new_rows n;
    IF ids IS NOT NULL THEN
        PERFORM member.member_docs_write(clubs, ids);
    END IF;
    RETURN NULL;
END $$;

-- profiles and addresses: the rows' members (new rows; deleted addresses: old rows)
CREATE FUNCTION member.member_docs_parts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE clubs uuid[]; ids uuid[];
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'profiles' THEN
        DELETE FROM member.member_docs d USING old_rows o
            WHERE d.club_id = o.club_id AND d.member_id = o.member_id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        SELECT array_agg(o.club_id), array_agg(o.member_id) INTO clubs, ids FROM old_rows o;
    ELSE
        SELECT array_agg(n.club_id), array_agg(n.member_id) INTO clubs, ids FROM new_rows n;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM member.member_docs_write(clubs, ids);
    END IF;
    RETURN NULL;
END $$;

-- <table>_member_docs_<ins|upd|del>: AFTER <event> ... FOR EACH STATEMENT, the new rows (the
-- old ones for DELETE) as a transition table
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('members', 'UPDATE', 'member_docs_members'),
            ('profiles', 'INSERT', 'member_docs_parts'), ('profiles', 'UPDATE', 'member_docs_parts'),
            ('profiles', 'DELETE', 'member_docs_parts'), ('addresses', 'INSERT', 'member_docs_parts'),
            ('addresses', 'UPDATE', 'member_docs_parts'), ('addresses', 'DELETE', 'member_docs_parts'))
            AS v(tab, ev, fn) LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER %s ON member.%I REFERENCING %s FOR EACH STATEMENT '
                       'EXECUTE FUNCTION member.%I()',
                       t.tab || '_member_docs_' || lower(left(t.ev, 3)), t.ev, t.tab,
                       CASE t.ev WHEN 'DELETE' THEN 'OLD TABLE AS old_rows'
                                 ELSE 'NEW TABLE AS new_rows' END, t.fn);
    END LOOP;
END $$;

REVOKE ALL ON FUNCTION member.member_docs_write(uuid[], uuid[]), member.member_docs_members(),
    member.member_docs_parts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION member.member_docs_write(uuid[], uuid[]), member.member_docs_members(),
    member.member_docs_parts() TO reciprocal_app;

-- Existing members, one club at a time (the policies admit the current club only).
DO $$
DECLARE c uuid;
BEGIN
    FOR c IN SELECT id FROM member.clubs LOOP
        PERFORM set_config('app.club_id', c::text, true);
        PERFORM member.member_docs_write(array_agg(p.club_id), array_agg(p.member_id))
            FROM member.profiles p WHERE p.club_id = c;
    END LOOP;
    PERFORM set_config('app.club_id', '', true);
END $$;
