-- reciprocal service: open_statement's INSERT with every unique index as arbiter (issue 12).
-- Two postings that open the same pair's month at once both pass the check on the arbiter index
-- (host, home, currency, period) when neither row is visible yet; the statement number, derived
-- from the same key, is a second unique index, and a unique index that is not an arbiter raises
-- 23505 instead of waiting and doing nothing: one posting answered 409 "a record with this
-- number already exists" (test_settlement_api test_concurrency, once in CI). `ON CONFLICT DO
-- NOTHING` without a target makes both indexes arbiters: the loser waits, does nothing, and the
-- loop's second pass reads the winner's draft. Same function otherwise (0013).
CREATE OR REPLACE FUNCTION reciprocal.open_statement(p_host uuid, p_home uuid, p_currency text, p_tz text,
                                          p_period date) RETURNS uuid
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    v_period date;
    v_id uuid;
    v_draft boolean;
BEGIN
    FOR i IN 0..119 LOOP
        v_period := (p_period + make_interval(months => i))::date;
        FOR attempt IN 0..1 LOOP
            SELECT s.id, s.status = 'draft' INTO v_id, v_draft FROM reciprocal.statements s
                WHERE s.host_club_id = p_host AND s.home_club_id = p_home
                  AND s.currency = p_currency AND s.period = v_period
                FOR SHARE;
            IF FOUND THEN
                IF v_draft THEN
                    RETURN v_id;
                END IF;
                EXIT; -- no longer a draft: the next month
            END IF;
            IF attempt = 0 THEN
                INSERT INTO reciprocal.statements (number, host_club_id, home_club_id, currency,
                                                   period, host_timezone)
                VALUES ('ST-' || to_char(v_period, 'YYYYMM') || '-'
                            || upper(left(replace(p_host::text, '-', ''), 8)) || '-'
                            || upper(left(replace(p_home::text, '-', ''), 8)) || '-' || p_currency,
                        p_host, p_home, p_currency, v_period, p_tz)
                ON CONFLICT DO NOTHING;
            END IF;
        END LOOP;
    END LOOP;
    RAISE EXCEPTION 'no statement open for this charge' USING ERRCODE = 'P0001',
        HINT = 'no_open_statement';
END
$$;
