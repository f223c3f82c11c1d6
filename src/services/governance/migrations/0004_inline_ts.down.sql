ALTER FUNCTION governance.ts(timestamptz) IMMUTABLE;
