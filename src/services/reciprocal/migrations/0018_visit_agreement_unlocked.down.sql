-- back to the foreign key visits.agreement_id -> agreements.id (0003)
DROP TRIGGER visits_agreement ON reciprocal.visits;
DROP FUNCTION reciprocal.visit_agreement_exists();
DROP TRIGGER agreements_kept_truncate ON reciprocal.agreements;
DROP TRIGGER agreements_kept ON reciprocal.agreements;
DROP FUNCTION reciprocal.agreement_kept();
ALTER TABLE reciprocal.visits ADD CONSTRAINT visits_agreement_id_fkey
    FOREIGN KEY (agreement_id) REFERENCES reciprocal.agreements (id);
