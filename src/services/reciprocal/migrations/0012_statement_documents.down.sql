DROP FUNCTION reciprocal.statement_json(reciprocal.statements);
