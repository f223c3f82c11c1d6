-- reciprocal service: charges posted as whole bills, in one statement (issue 12, "posting charges
-- >= 2,000 lines/s"; docs/reciprocal.md "Posting charges: whole bills, fewer round trips").
-- open_statement: the open (draft) statement of an ordered pair, currency and month (period,
-- the first day of the month in the host's time zone), created when missing, locked FOR SHARE
-- until the posting transaction ends (issuing takes it FOR UPDATE, so it waits for postings in
-- flight); when that month's statement is no longer a draft, the next month's, up to 120 months
-- on. It is what charges.c's stmt_open_for did in up to 3 round trips per line: the posting's
-- INSERT now calls it once per month its lines fall in. SECURITY INVOKER: the caller's row
-- policies apply (the host's scope creates and reads its statements).
CREATE FUNCTION reciprocal.open_statement(p_host uuid, p_home uuid, p_currency text, p_tz text,
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
                ON CONFLICT (host_club_id, home_club_id, currency, period) DO NOTHING;
            END IF;
        END LOOP;
    END LOOP;
    RAISE EXCEPTION 'no statement open for this charge' USING ERRCODE = 'P0001',
        HINT = 'no_open_statement';
END
$$;
GRANT EXECUTE ON FUNCTION reciprocal.open_statement(uuid, uuid, text, text, date)
    TO reciprocal_app;
