-- back to visits_open_idx (0003) and the default fillfactor
DROP TRIGGER visits_sweep_floor ON reciprocal.visits;
DROP FUNCTION reciprocal.visit_sweep_floor_lower();
DROP TABLE reciprocal.visit_sweep_floor;
ALTER TABLE reciprocal.visits RESET (fillfactor);
DROP INDEX reciprocal.visits_arrive_idx;
CREATE INDEX visits_open_idx ON reciprocal.visits (status, depart_on)
    WHERE status IN ('requested', 'approved', 'confirmed', 'checked_in');
