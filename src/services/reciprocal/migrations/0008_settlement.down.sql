DROP FUNCTION reciprocal.statement_doc(reciprocal.statements, boolean);
DROP FUNCTION reciprocal.charge_doc(reciprocal.charges);
DROP TABLE reciprocal.statement_disputes;
DROP TABLE reciprocal.charges;
DROP TABLE reciprocal.statements;
