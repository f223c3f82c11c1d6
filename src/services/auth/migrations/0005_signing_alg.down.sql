-- keys of other algorithms cannot be used by the RS256-only code before this migration
DELETE FROM auth.signing_keys WHERE alg <> 'RS256';
ALTER TABLE auth.signing_keys DROP COLUMN alg;
