-- governance.ts as STABLE so PostgreSQL inlines it (docs/governance.md "Bench: governance.ts
-- inlined"). Declared IMMUTABLE around a STABLE body (to_char), it could not be inlined: every
-- statement using it called it as a SQL function, parsing and planning its body once per call
-- site per execution (the cast statement has two; proposal_doc ten). The text is the same.
ALTER FUNCTION governance.ts(timestamptz) STABLE;
