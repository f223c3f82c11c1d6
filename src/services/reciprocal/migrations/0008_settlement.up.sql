-- reciprocal service: charges and monthly settlement between clubs (issue 12). Rules and API:
-- docs/reciprocal.md "Charges and settlement".
--
-- statements: one per ordered pair (host -> home), currency and calendar month in the host's
-- time zone (period = the first day of that month). Created as `draft` by the first
-- bill_home_club charge of its key; draft -> issued -> accepted -> paid, issued <-> disputed.
-- The host sees its statements in every state; the home club from `issued` on (it sees its
-- members' lines only through statements).
CREATE TABLE reciprocal.statements (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number         text NOT NULL UNIQUE,
    host_club_id   uuid NOT NULL,
    home_club_id   uuid NOT NULL,
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    period         date NOT NULL CHECK (extract(day FROM period) = 1),
    host_timezone  text NOT NULL,
    status         text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'issued',
                       'disputed', 'accepted', 'paid')),
    line_count     integer,
    total_net      bigint,
    total_tax      bigint,
    total          bigint,
    hash           text CHECK (hash ~ '^[0-9a-f]{64}$'),
    ledger_status  text CHECK (ledger_status IN ('pending', 'submitted')),
    ledger_tx_id   text CHECK (ledger_tx_id ~ '^[0-9a-f]{64}$'),
    ledger_error   text CHECK (char_length(ledger_error) <= 400),
    drafted_at     timestamptz,
    issued_at      timestamptz,
    accepted_at    timestamptz,
    paid_at        timestamptz,
    payment_ref    text CHECK (char_length(payment_ref) <= 200),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (host_club_id <> home_club_id),
    UNIQUE (host_club_id, home_club_id, currency, period)
);
CREATE INDEX statements_home_idx ON reciprocal.statements (home_club_id, period, id);
CREATE INDEX statements_open_idx ON reciprocal.statements (status, period)
    WHERE status = 'draft';
ALTER TABLE reciprocal.statements ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.statements FORCE ROW LEVEL SECURITY;
CREATE POLICY statements_read ON reciprocal.statements FOR SELECT
    USING (core.is_network_admin() OR core.current_club() = host_club_id
           OR (core.current_club() = home_club_id AND status <> 'draft'));
CREATE POLICY statements_create ON reciprocal.statements FOR INSERT
    WITH CHECK (core.is_network_admin() OR core.current_club() = host_club_id);
CREATE POLICY statements_change ON reciprocal.statements FOR UPDATE
    USING (core.is_network_admin() OR core.current_club() = host_club_id
           OR (core.current_club() = home_club_id AND status <> 'draft'))
    WITH CHECK (core.is_network_admin() OR core.current_club() = host_club_id
                OR core.current_club() = home_club_id);
GRANT SELECT, INSERT, UPDATE ON reciprocal.statements TO reciprocal_app;

-- charges: append-only line items a host posts against a visit (never updated nor deleted: a
-- correction is a reversing line, reverses = the original, at most one reversal per line).
-- Money is integer minor units of currency (the host's). net = quantity * unit_amount, total =
-- net + tax_amount. A bill_home_club charge names its statement from the start; a pay_at_host
-- charge has none (it closes at the host).
CREATE TABLE reciprocal.charges (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    visit_id       uuid NOT NULL REFERENCES reciprocal.visits (id),
    host_club_id   uuid NOT NULL,
    home_club_id   uuid NOT NULL,
    member_id      uuid NOT NULL,
    category       text NOT NULL CHECK (category IN ('room', 'dining', 'bar', 'green_fee',
                       'cart_fee', 'guest_fee', 'entry_fee', 'cancellation_fee', 'no_show_fee',
                       'other')),
    description    text NOT NULL CHECK (char_length(description) BETWEEN 1 AND 200),
    quantity       integer NOT NULL CHECK (quantity BETWEEN -10000 AND 10000 AND quantity <> 0),
    unit_amount    bigint NOT NULL CHECK (unit_amount BETWEEN 0 AND 100000000000),
    tax_amount     bigint NOT NULL CHECK (abs(tax_amount) <= 100000000000),
    tax_rate_bp    integer NOT NULL DEFAULT 0 CHECK (tax_rate_bp BETWEEN 0 AND 10000),
    net_amount     bigint GENERATED ALWAYS AS (quantity::bigint * unit_amount) STORED,
    total_amount   bigint GENERATED ALWAYS AS (quantity::bigint * unit_amount + tax_amount) STORED,
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    payment_mode   text NOT NULL CHECK (payment_mode IN ('pay_at_host', 'bill_home_club')),
    staff_user_id  uuid,
    at             timestamptz NOT NULL,
    reverses       uuid UNIQUE REFERENCES reciprocal.charges (id),
    reason         text CHECK (char_length(reason) <= 500),
    statement_id   uuid REFERENCES reciprocal.statements (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((payment_mode = 'bill_home_club') = (statement_id IS NOT NULL)),
    CHECK ((reverses IS NULL) = (quantity > 0))
);
CREATE INDEX charges_host_idx ON reciprocal.charges (host_club_id, created_at, id);
CREATE INDEX charges_visit_idx ON reciprocal.charges (visit_id, seq);
CREATE INDEX charges_statement_idx ON reciprocal.charges (statement_id, seq);
CREATE INDEX charges_member_idx ON reciprocal.charges (member_id, created_at, id);
ALTER TABLE reciprocal.charges ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.charges FORCE ROW LEVEL SECURITY;
CREATE POLICY charges_read ON reciprocal.charges FOR SELECT
    USING (core.is_network_admin() OR core.current_club() = host_club_id
           OR (core.current_club() = home_club_id AND EXISTS (SELECT 1 FROM
               reciprocal.statements s WHERE s.id = statement_id)));
CREATE POLICY charges_post ON reciprocal.charges FOR INSERT
    WITH CHECK (core.is_network_admin() OR core.current_club() = host_club_id);
GRANT SELECT, INSERT ON reciprocal.charges TO reciprocal_app;

-- disputes: the home club disputes a line of an issued statement with a reason; the host answers
-- by reversing the line (`reversed`) or rejecting the dispute (`rejected`, with its answer).
CREATE TABLE reciprocal.statement_disputes (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    statement_id  uuid NOT NULL REFERENCES reciprocal.statements (id),
    charge_id     uuid REFERENCES reciprocal.charges (id),
    reason        text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'reversed', 'rejected')),
    answer        text CHECK (char_length(answer) <= 500),
    opened_by     uuid,
    opened_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at   timestamptz
);
CREATE UNIQUE INDEX statement_disputes_open_idx ON reciprocal.statement_disputes
    (statement_id, coalesce(charge_id, '00000000-0000-0000-0000-000000000000'::uuid))
    WHERE status = 'open';
ALTER TABLE reciprocal.statement_disputes ENABLE ROW LEVEL SECURITY;
ALTER TABLE reciprocal.statement_disputes FORCE ROW LEVEL SECURITY;
CREATE POLICY statement_disputes_side ON reciprocal.statement_disputes
    USING (EXISTS (SELECT 1 FROM reciprocal.statements s WHERE s.id = statement_id))
    WITH CHECK (EXISTS (SELECT 1 FROM reciprocal.statements s WHERE s.id = statement_id));
GRANT SELECT, INSERT, UPDATE ON reciprocal.statement_disputes TO reciprocal_app;

-- A charge's JSON (the same keys everywhere: REST, GraphQL, statement lines).
CREATE FUNCTION reciprocal.charge_doc(c reciprocal.charges) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'visit_id', c.visit_id, 'host_club_id', c.host_club_id,
        'home_club_id', c.home_club_id, 'member_id', c.member_id, 'category', c.category,
        'description', c.description, 'quantity', c.quantity, 'unit_amount', c.unit_amount,
        'tax_amount', c.tax_amount, 'tax_rate_bp', c.tax_rate_bp, 'net_amount', c.net_amount,
        'total_amount', c.total_amount, 'currency', c.currency, 'payment_mode', c.payment_mode,
        'staff_user_id', c.staff_user_id, 'at', reciprocal.ts(c.at), 'reverses', c.reverses,
        'reversed_by', (SELECT r.id FROM reciprocal.charges r WHERE r.reverses = c.id),
        'reason', c.reason, 'statement_id', c.statement_id,
        'created_at', reciprocal.ts(c.created_at))
    $$;
GRANT EXECUTE ON FUNCTION reciprocal.charge_doc(reciprocal.charges) TO reciprocal_app;

-- A statement's JSON. Lines (with_lines) in visit order then posting order; totals are the sums
-- of the lines (per tax rate too); issued_totals what was fixed when it was (last) issued.
CREATE FUNCTION reciprocal.statement_doc(s reciprocal.statements, with_lines boolean)
    RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT jsonb_build_object(
        'id', s.id, 'number', s.number, 'host_club_id', s.host_club_id,
        'home_club_id', s.home_club_id, 'currency', s.currency,
        'period', to_char(s.period, 'YYYY-MM'), 'host_timezone', s.host_timezone,
        'status', s.status,
        'lines', CASE WHEN with_lines THEN (SELECT coalesce(jsonb_agg(reciprocal.charge_doc(c)
                     ORDER BY c.visit_id, c.seq), '[]') FROM reciprocal.charges c
                     WHERE c.statement_id = s.id) END,
        'totals', (SELECT jsonb_build_object('lines', count(*),
                       'net', coalesce(sum(c.net_amount), 0)::bigint,
                       'tax', coalesce(sum(c.tax_amount), 0)::bigint,
                       'total', coalesce(sum(c.total_amount), 0)::bigint)
                   FROM reciprocal.charges c WHERE c.statement_id = s.id),
        'by_tax_rate', (SELECT coalesce(jsonb_agg(jsonb_build_object('tax_rate_bp', t.rate,
                            'net', t.net, 'tax', t.tax, 'total', t.total) ORDER BY t.rate), '[]')
                        FROM (SELECT c.tax_rate_bp AS rate, sum(c.net_amount)::bigint AS net,
                                  sum(c.tax_amount)::bigint AS tax,
                                  sum(c.total_amount)::bigint AS total
                              FROM reciprocal.charges c WHERE c.statement_id = s.id
                              GROUP BY c.tax_rate_bp) t),
        'issued_totals', CASE WHEN s.total IS NULL THEN NULL ELSE jsonb_build_object(
            'lines', s.line_count, 'net', s.total_net, 'tax', s.total_tax, 'total', s.total) END,
        'disputes', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', d.id,
                         'charge_id', d.charge_id, 'reason', d.reason, 'status', d.status,
                         'answer', d.answer, 'opened_at', reciprocal.ts(d.opened_at),
                         'resolved_at', reciprocal.ts(d.resolved_at))
                         ORDER BY d.opened_at, d.id), '[]')
                     FROM reciprocal.statement_disputes d WHERE d.statement_id = s.id),
        'hash', s.hash,
        'ledger', CASE WHEN s.ledger_status IS NULL THEN NULL ELSE jsonb_build_object(
            'status', s.ledger_status, 'tx_id', s.ledger_tx_id, 'error', s.ledger_error) END,
        'payment_ref', s.payment_ref,
        'drafted_at', reciprocal.ts(s.drafted_at), 'issued_at', reciprocal.ts(s.issued_at),
        'accepted_at', reciprocal.ts(s.accepted_at), 'paid_at', reciprocal.ts(s.paid_at),
        'created_at', reciprocal.ts(s.created_at))
    $$;
GRANT EXECUTE ON FUNCTION reciprocal.statement_doc(reciprocal.statements, boolean)
    TO reciprocal_app;
