DROP FUNCTION core.drop_dead_letter(text);
DROP FUNCTION core.create_dead_letter(text);
