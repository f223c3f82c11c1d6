DROP FUNCTION reciprocal.open_statement(uuid, uuid, text, text, date);
