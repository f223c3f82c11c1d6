-- reciprocal service: the door's move made HOT (issue 11, docs/reciprocal.md "The door's move
-- made HOT (migration 0019, stop 25)").
-- Every move of a visit (approve, confirm, check-in, check-out, the sweep's) sets `status`, and
-- `status` was a column and the predicate of visits_open_idx: in PostgreSQL an UPDATE that
-- changes a column any index names (key, expression or predicate) is never HOT, so each move
-- wrote a new entry into all six indexes of visits. No index of visits names a column a move
-- sets any more (status, updated_at, checked_in_at/_by, checked_out_at/_by): the moves can be
-- HOT (heap-only: the new row version on the same page, no index entry).
--
-- The sweep (visits_sweep.c) was visits_open_idx's only reader. It now reads visits by arrive_on
-- between a floor and the sweep's date + 2 days: every visit the sweep can move (requested or
-- approved: the letter's end or the end of the departure day has passed; confirmed: the end of
-- the departure day plus the grace) arrived on or before that date (a letter is valid from the
-- start of the arrival day, the host's zone at most 14 h ahead of UTC). The floor
-- (visit_sweep_floor, one row): no visit in requested, approved or confirmed arrives before it.
-- The sweep raises it after its moves, to the earliest arrival of those visits but never above
-- two days before today (UTC); a visit written with an earlier arrival (the seeds' history, a
-- visit left over from before this migration is counted below) lowers it (trigger). So a visit
-- left open by downtime is still found, and a sweep reads the visits that arrived since the
-- oldest open one, not all history.
DROP INDEX reciprocal.visits_open_idx;
CREATE INDEX visits_arrive_idx ON reciprocal.visits (arrive_on);

-- Room on each page for the moves' new row versions (a HOT version must fit on the old one's
-- page; a page filled to 100 % by inserts has none until pruned).
ALTER TABLE reciprocal.visits SET (fillfactor = 80);

CREATE TABLE reciprocal.visit_sweep_floor (
    one    boolean PRIMARY KEY DEFAULT true CHECK (one),
    floor  date NOT NULL
);
-- the first floor counts every club's visits (visits' policy: FORCE RLS applies to the owner)
SELECT set_config('app.network_admin', 'on', true);
INSERT INTO reciprocal.visit_sweep_floor (floor)
    SELECT least(coalesce(min(v.arrive_on), 'infinity'::date),
                 (now() AT TIME ZONE 'UTC')::date - 2)
    FROM reciprocal.visits v WHERE v.status IN ('requested', 'approved', 'confirmed');
SELECT set_config('app.network_admin', 'off', true);
-- Everyone reads it; only a network administrator's scope (the scheduler's) moves it, and the
-- trigger function below, for any writer, moves it in that scope (restriction_of's way, 0005).
ALTER TABLE reciprocal.visit_sweep_floor ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.visit_sweep_floor FORCE ROW LEVEL SECURITY;
CREATE POLICY visit_sweep_floor_read ON reciprocal.visit_sweep_floor FOR SELECT USING (true);
CREATE POLICY visit_sweep_floor_move ON reciprocal.visit_sweep_floor FOR UPDATE
    USING (core.is_network_admin()) WITH CHECK (core.is_network_admin());
GRANT SELECT, UPDATE ON reciprocal.visit_sweep_floor TO reciprocal_app;

-- A visit written with an arrival earlier than one day before today may be below the floor:
-- lower it. The floor is never raised above today - 2 and the trigger fires from today - 1: a
-- day's margin, so a writer whose transaction started before midnight (UTC) and commits after
-- a sweep of the next day is still covered. The trigger locks the floor's row (FOR SHARE) even
-- when it need not lower it: a sweep (FOR UPDATE on that row first) then waits for the writer's
-- COMMIT and its reads see the visit, so no uncommitted early arrival is stepped over. The
-- trigger's WHEN keeps every other INSERT (every POST /visits of today's dates) free of the
-- call.
CREATE FUNCTION reciprocal.visit_sweep_floor_lower() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    prev text := current_setting('app.network_admin', true);
BEGIN
    -- FORCE RLS binds the owner too: the floor's policies let the network scope lock and move it
    PERFORM set_config('app.network_admin', 'on', true);
    PERFORM 1 FROM reciprocal.visit_sweep_floor FOR SHARE;
    UPDATE reciprocal.visit_sweep_floor SET floor = NEW.arrive_on WHERE floor > NEW.arrive_on;
    PERFORM set_config('app.network_admin', coalesce(prev, 'off'), true);
    RETURN NEW;
END $$;
CREATE TRIGGER visits_sweep_floor BEFORE INSERT OR UPDATE OF arrive_on ON reciprocal.visits
    FOR EACH ROW WHEN (NEW.arrive_on < (now() AT TIME ZONE 'UTC')::date - 1)
    EXECUTE FUNCTION reciprocal.visit_sweep_floor_lower();
