-- bench/settlement_seed.sql: the settlement bench's data (bench/settlement.sh), straight into
-- PostgreSQL as the superuser: one active agreement of the clubs :'clubs' (a uuid[] literal),
-- :pairs ordered pairs host -> home among them, :visits completed visits per pair, :lines dining
-- lines (bill_home_club) spread evenly over the pairs and their visits, each pair's draft
-- statement of the month :'period' (YYYY-MM-01). Prints the statement ids, one a line.
CREATE TEMP TABLE c AS SELECT id, n FROM unnest(:'clubs'::uuid[]) WITH ORDINALITY AS x(id, n);
CREATE TEMP TABLE p AS SELECT row_number() OVER (ORDER BY h.n, m.n) - 1 AS k, h.id AS host,
    m.id AS home FROM c h, c m WHERE h.id <> m.id ORDER BY h.n, m.n LIMIT :pairs;
CREATE TEMP TABLE a AS SELECT gen_random_uuid() AS id;
INSERT INTO reciprocal.agreements (id, status, proposer_club_id, club_ids, starts_on, terms,
    activated_at)
SELECT a.id, 'active', (SELECT id FROM c WHERE n = 1), :'clubs'::uuid[], :'period'::date - 31,
    '{}', now() FROM a;
CREATE TEMP TABLE v AS SELECT gen_random_uuid() AS id, p.k, j, p.host, p.home
    FROM p, generate_series(0, :visits - 1) j;
INSERT INTO reciprocal.visits (id, home_club_id, host_club_id, member_id, agreement_id, status,
    arrive_on, depart_on, facilities, host_timezone, checked_in_at, checked_out_at)
SELECT v.id, v.home, v.host, gen_random_uuid(), a.id, 'completed', :'period'::date + v.j % 28,
    :'period'::date + v.j % 28, '{dining}', 'Europe/London',
    (:'period'::date + v.j % 28)::timestamp + interval '18 hours',
    (:'period'::date + v.j % 28)::timestamp + interval '23 hours' FROM v, a;
CREATE TEMP TABLE s AS SELECT gen_random_uuid() AS id, p.* FROM p;
INSERT INTO reciprocal.statements (id, number, host_club_id, home_club_id, currency, period,
    host_timezone)
SELECT s.id, 'ST-' || to_char(:'period'::date, 'YYYYMM') || '-' ||
    upper(left(replace(s.host::text, '-', ''), 8)) || '-' ||
    upper(left(replace(s.home::text, '-', ''), 8)) || '-GBP', s.host, s.home, 'GBP',
    :'period'::date, 'Europe/London' FROM s;
-- line i goes to pair i % pairs, visit (i / pairs) % visits of it
INSERT INTO reciprocal.charges (visit_id, host_club_id, home_club_id, member_id, category,
    description, quantity, unit_amount, tax_amount, tax_rate_bp, currency, payment_mode, at,
    statement_id)
SELECT vv.id, s.host, s.home, vv.member_id, 'dining', 'Dinner', 1 + i % 3, 4500, 900 * (1 + i % 3),
    2000, 'GBP', 'bill_home_club', vv.checked_in_at + (i % 240) * interval '1 minute', s.id
FROM generate_series(0, :lines - 1) i
JOIN s ON s.k = i % :pairs
JOIN v ON v.k = s.k AND v.j = (i / :pairs) % :visits
JOIN reciprocal.visits vv ON vv.id = v.id;
ANALYZE reciprocal.charges;
ANALYZE reciprocal.statements;
SELECT id FROM s ORDER BY k;
