-- 0005_signing_alg: the signing algorithm of each key (issue 16 step 4: RECIPROCAL_JWT_ALG).
-- Existing keys are RSA (RS256). The active key of a process is the newest unretired key of its
-- configured algorithm; a process whose algorithm has no active key creates one (under the
-- advisory lock) without retiring the keys of other algorithms, so processes configured
-- differently during a rolling change do not retire each other's keys. `reciprocal auth
-- rotate-keys` retires every active key (all algorithms) and creates one of the configured
-- algorithm. Every published key (active, or retired less than the access TTL + 5 min ago) is in
-- the JWKS whatever its algorithm.
ALTER TABLE auth.signing_keys
    ADD COLUMN alg text NOT NULL DEFAULT 'RS256' CHECK (alg IN ('RS256', 'EdDSA', 'ES256'));
