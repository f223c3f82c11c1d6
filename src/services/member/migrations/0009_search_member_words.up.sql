-- member service: a search bounded by its page (issue 16). A search without sort lists its
-- matches in the order of the word index (club_id, kind, word, member_id) and stops after the
-- page; per row read it checks, for that member, whether an earlier word also matches (a
-- member is listed once, at its first matching word), whether the other words of q match, and
-- (member number matches) whether the words list it already. Those probes look up one
-- member's words by prefix range: this index (the words of a member, in the C collation, in
-- the index itself) answers them with index-only range scans instead of reading the member's
-- rows of the table. It replaces search_words_member_idx (club_id, member_id), whose leading
-- columns it keeps (the foreign key to members, the triggers' deletes by member).
CREATE INDEX search_words_member_word_idx ON member.search_words (club_id, member_id, kind, word);
DROP INDEX member.search_words_member_idx;
