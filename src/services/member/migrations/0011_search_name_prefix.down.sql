DROP INDEX member.search_words_name_prefix_idx;
ALTER TABLE member.search_words DROP COLUMN word3;
