CREATE INDEX profiles_search_idx ON member.profiles USING gin (search);
DROP TRIGGER members_search_words_upd ON member.members;
DROP TRIGGER members_search_words_ins ON member.members;
DROP TRIGGER profiles_search_words_upd ON member.profiles;
DROP TRIGGER profiles_search_words_ins ON member.profiles;
DROP FUNCTION member.search_words_members();
DROP FUNCTION member.search_words_profiles();
DROP TABLE member.search_words;
