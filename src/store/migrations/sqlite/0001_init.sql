-- Sluice store, version 1 (SQLite). Times are ISO-8601 UTC strings, which sort correctly
-- as text. JSON values are stored as TEXT.

CREATE TABLE api_keys (
  id            TEXT PRIMARY KEY,
  principal     TEXT NOT NULL,
  kind          TEXT NOT NULL CHECK (kind IN ('human', 'agent', 'service')),
  groups        TEXT NOT NULL DEFAULT '[]',
  on_behalf_of  TEXT,
  hash          TEXT NOT NULL UNIQUE,
  created_at    TEXT NOT NULL,
  expires_at    TEXT,
  revoked_at    TEXT
) STRICT;
CREATE INDEX api_keys_principal ON api_keys (principal);

CREATE TABLE reviews (
  id            TEXT PRIMARY KEY,
  action_id     TEXT NOT NULL,
  status        TEXT NOT NULL
                CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled', 'executed')),
  created_at    TEXT NOT NULL,
  expires_at    TEXT NOT NULL,
  command_hash  TEXT NOT NULL,
  action        TEXT NOT NULL,
  rule          TEXT NOT NULL,
  reason        TEXT NOT NULL,
  decided_at    TEXT,
  decided_by    TEXT,
  note          TEXT
) STRICT;
CREATE INDEX reviews_status ON reviews (status, created_at);
CREATE INDEX reviews_action ON reviews (action_id);

-- The audit chain. `body` is the canonical JSON the hash covers, kept byte for byte; the other
-- columns are copies of body fields for searching, and verify checks that they agree.
CREATE TABLE audit (
  seq         INTEGER PRIMARY KEY CHECK (seq > 0),
  time        TEXT NOT NULL,
  kind        TEXT NOT NULL,
  action_id   TEXT,
  session     TEXT,
  principal   TEXT,
  connection  TEXT,
  effect      TEXT,
  prev_hash   TEXT NOT NULL CHECK (length(prev_hash) = 64),
  hash        TEXT NOT NULL CHECK (length(hash) = 64),
  body        TEXT NOT NULL
) STRICT;
CREATE INDEX audit_session ON audit (session, seq) WHERE session IS NOT NULL;
CREATE INDEX audit_principal ON audit (principal, seq) WHERE principal IS NOT NULL;
CREATE INDEX audit_connection ON audit (connection, seq) WHERE connection IS NOT NULL;
CREATE INDEX audit_effect ON audit (effect, seq) WHERE effect IS NOT NULL;
CREATE INDEX audit_action ON audit (action_id, seq) WHERE action_id IS NOT NULL;

-- Append-only: stop accidental edits. Someone with write access to the file can drop these;
-- that is what the hash chain and verify are for.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
  SELECT RAISE(ABORT, 'audit records are append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
  SELECT RAISE(ABORT, 'audit records are append-only');
END;
