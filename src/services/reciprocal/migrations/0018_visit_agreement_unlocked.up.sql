-- reciprocal service: a visit's agreement checked without locking the agreement's row (issue 11,
-- docs/reciprocal.md "Speed: POST /visits, the agreement's row lock (stop 22)").
-- The foreign key visits.agreement_id -> agreements.id locked the referenced row FOR KEY SHARE
-- on every visit INSERT: every POST /visits of a club pair locked the same agreement row, and
-- whenever two requests overlapped PostgreSQL made a MultiXact of their locks (and a bigger one
-- for each request that joined), with the row's page written and logged every time.
-- The same guarantee, a visit never references a missing agreement, from two halves:
--   1. an agreement that exists exists for good: its row is never deleted (no DELETE grant to
--      the app role, and a trigger for every role), its id never changes, and the table is
--      never truncated (triggers below);
--   2. a visit's agreement exists when the visit is written (BEFORE INSERT, and BEFORE an UPDATE
--      that names agreement_id): a plain read of the agreement, no row lock, which (1) makes
--      sufficient: nothing can remove the agreement between the read and the commit, or after.
-- The read runs with the writer's row-level security: the agreement must be one the writing
-- scope sees (the visit's home club is a party of it; a network administrator sees all), which
-- is stricter than the foreign key. An agreement inserted by a transaction not yet committed is
-- refused (the foreign key waited for it); the request reads its agreement committed.
ALTER TABLE reciprocal.visits DROP CONSTRAINT visits_agreement_id_fkey;

CREATE FUNCTION reciprocal.agreement_kept() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.id IS DISTINCT FROM OLD.id THEN
            RAISE EXCEPTION 'agreement %: an agreement''s id never changes', OLD.id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'agreements are never deleted (visits reference them)'
        USING ERRCODE = 'foreign_key_violation';
END $$;
CREATE TRIGGER agreements_kept BEFORE UPDATE OF id OR DELETE ON reciprocal.agreements
    FOR EACH ROW EXECUTE FUNCTION reciprocal.agreement_kept();
CREATE TRIGGER agreements_kept_truncate BEFORE TRUNCATE ON reciprocal.agreements
    FOR EACH STATEMENT EXECUTE FUNCTION reciprocal.agreement_kept();

CREATE FUNCTION reciprocal.visit_agreement_exists() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM 1 FROM reciprocal.agreements a WHERE a.id = NEW.agreement_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'visit %: agreement % does not exist', NEW.id, NEW.agreement_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER visits_agreement BEFORE INSERT OR UPDATE OF agreement_id ON reciprocal.visits
    FOR EACH ROW EXECUTE FUNCTION reciprocal.visit_agreement_exists();
