-- reciprocal service: the charges' read policy with the caller's scope read once per statement
-- (issue 12, "Speed: settlement" in docs/reciprocal.md). core.is_network_admin() and
-- core.current_club() are STABLE, so in the policy as written by 0008 PostgreSQL evaluated them
-- for every row a statement reads (a statement's document, its totals at issue: 2,000 rows
-- each); wrapped in a scalar sub-select they become init plans, evaluated once per statement.
-- The same functions and the same rule: who sees which line does not change (the scope is only
-- changed between statements, charges.c's set_config for a cancellation fee included).
ALTER POLICY charges_read ON reciprocal.charges
    USING ((SELECT core.is_network_admin()) OR (SELECT core.current_club()) = host_club_id
           OR ((SELECT core.current_club()) = home_club_id AND EXISTS (SELECT 1 FROM
               reciprocal.statements s WHERE s.id = statement_id)));
