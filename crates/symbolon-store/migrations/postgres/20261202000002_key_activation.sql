-- When a key starts signing. A rotated-in key is published in the JWKS at once and signs
-- only from here, after every instance has reloaded and published it.
ALTER TABLE signing_keys ADD COLUMN active_at BIGINT NOT NULL DEFAULT 0;
UPDATE signing_keys SET active_at = created_at;
