-- reciprocal service: a statement's whole document as json text (issue 12, the bench of 50 pairs'
-- statements with 100,000 lines; docs/reciprocal.md "Statement documents at volume").
-- statement_doc(s, true) built each line with charge_doc (an SQL function with a sub-select,
-- never inlined: ~200 µs a call) into jsonb, and jsonb_agg of 2,000 jsonb objects re-encoded
-- each; ~0.8 s for one 2,000-line statement. statement_json builds the same document in one
-- pass as json (text, no re-encoding), the lines inline (the reversal by the unique index on
-- reverses: a join made the planner hash every charge of the table), the keys in jsonb's order
-- (shorter first, then bytewise), so the answer after core/json.h's jsonx_raw is byte for byte
-- what the jsonb document gave (test_settlement_api test_documents). statement_doc stays for the list
-- (without lines) and for older callers; both must list the same keys (tests compare them).
CREATE FUNCTION reciprocal.statement_json(s reciprocal.statements) RETURNS json
    LANGUAGE sql STABLE
    AS $$
    SELECT json_build_object(
        'id', s.id, 'hash', s.hash,
        'lines', (SELECT coalesce(json_agg(json_build_object(
                      'at', reciprocal.ts(c.at), 'id', c.id, 'reason', c.reason,
                      'category', c.category, 'currency', c.currency, 'quantity', c.quantity,
                      'reverses', c.reverses, 'visit_id', c.visit_id, 'member_id', c.member_id,
                      'created_at', reciprocal.ts(c.created_at), 'net_amount', c.net_amount,
                      'tax_amount', c.tax_amount, 'description', c.description,
                      'reversed_by', (SELECT r.id FROM reciprocal.charges r
                                      WHERE r.reverses = c.id),
                      'tax_rate_bp', c.tax_rate_bp,
                      'unit_amount', c.unit_amount, 'home_club_id', c.home_club_id,
                      'host_club_id', c.host_club_id, 'payment_mode', c.payment_mode,
                      'statement_id', c.statement_id, 'total_amount', c.total_amount,
                      'staff_user_id', c.staff_user_id) ORDER BY c.visit_id, c.seq), '[]')
                  FROM reciprocal.charges c WHERE c.statement_id = s.id),
        'ledger', CASE WHEN s.ledger_status IS NULL THEN NULL ELSE jsonb_build_object(
            'status', s.ledger_status, 'tx_id', s.ledger_tx_id, 'error', s.ledger_error) END,
        'number', s.number, 'period', to_char(s.period, 'YYYY-MM'), 'status', s.status,
        'totals', (SELECT jsonb_build_object('lines', count(*),
                       'net', coalesce(sum(c.net_amount), 0)::bigint,
                       'tax', coalesce(sum(c.tax_amount), 0)::bigint,
                       'total', coalesce(sum(c.total_amount), 0)::bigint)
                   FROM reciprocal.charges c WHERE c.statement_id = s.id),
        'paid_at', reciprocal.ts(s.paid_at), 'currency', s.currency,
        'disputes', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', d.id,
                         'charge_id', d.charge_id, 'reason', d.reason, 'status', d.status,
                         'answer', d.answer, 'opened_at', reciprocal.ts(d.opened_at),
                         'resolved_at', reciprocal.ts(d.resolved_at))
                         ORDER BY d.opened_at, d.id), '[]')
                     FROM reciprocal.statement_disputes d WHERE d.statement_id = s.id),
        'issued_at', reciprocal.ts(s.issued_at), 'created_at', reciprocal.ts(s.created_at),
        'drafted_at', reciprocal.ts(s.drafted_at), 'accepted_at', reciprocal.ts(s.accepted_at),
        'by_tax_rate', (SELECT coalesce(jsonb_agg(jsonb_build_object('tax_rate_bp', t.rate,
                            'net', t.net, 'tax', t.tax, 'total', t.total) ORDER BY t.rate), '[]')
                        FROM (SELECT c.tax_rate_bp AS rate, sum(c.net_amount)::bigint AS net,
                                  sum(c.tax_amount)::bigint AS tax,
                                  sum(c.total_amount)::bigint AS total
                              FROM reciprocal.charges c WHERE c.statement_id = s.id
                              GROUP BY c.tax_rate_bp) t),
        'payment_ref', s.payment_ref, 'home_club_id', s.home_club_id,
        'host_club_id', s.host_club_id, 'host_timezone', s.host_timezone,
        'issued_totals', CASE WHEN s.total IS NULL THEN NULL ELSE jsonb_build_object(
            'lines', s.line_count, 'net', s.total_net, 'tax', s.total_tax, 'total', s.total) END)
    $$;
GRANT EXECUTE ON FUNCTION reciprocal.statement_json(reciprocal.statements) TO reciprocal_app;
