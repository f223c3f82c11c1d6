DROP FUNCTION reciprocal.visit_doc(reciprocal.visits);
DROP TABLE reciprocal.lois;
DROP TABLE reciprocal.loi_key_secrets;
DROP TABLE reciprocal.loi_keys;
DROP TABLE reciprocal.visit_transitions;
DROP TABLE reciprocal.visits;
DROP FUNCTION reciprocal.visit_terminal_guard();
