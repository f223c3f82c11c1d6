CREATE INDEX search_words_member_idx ON member.search_words (club_id, member_id);
DROP INDEX member.search_words_member_word_idx;
