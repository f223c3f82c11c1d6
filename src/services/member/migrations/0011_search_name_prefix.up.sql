-- member service: a search sorted by name bounded by its page (issue 16). A search with
-- sort=name / -name took its matches and their name keys from the word index (0007), but had to
-- read and sort every match before the page could be cut (q=lov: 1,613 of 100,000 members, ~2
-- ms of PostgreSQL CPU; a prefix matching the whole club, 100,000). word3 is the word's first
-- three characters (the whole word when shorter), a stored column so that it can be an index
-- condition under FORCE ROW LEVEL SECURITY (a function of a column such as left() is not
-- leakproof and could not). In the index below, the name rows (kind 'w') of one club and one
-- word3 are in name order: a prefix of 3+ characters p is the range of words of word3 =
-- left(p, 3), walked in (name_key, member_id) order with word >= p AND word < p || U+10FFFF as
-- an index condition on each index tuple, stopped once the page is full. The trigger functions
-- are unchanged (a generated column is written by PostgreSQL).
ALTER TABLE member.search_words
    ADD COLUMN word3 text COLLATE "C" GENERATED ALWAYS AS (left(word, 3)) STORED;
CREATE INDEX search_words_name_prefix_idx ON member.search_words
    (club_id, word3, name_key, member_id, word) WHERE kind = 'w';
