-- Sluice store, version 3: a token remembers the key or token that issued it, so revoking a
-- key also stops every token made from it (checked when a token is used).
ALTER TABLE api_keys ADD COLUMN parent_id TEXT;
