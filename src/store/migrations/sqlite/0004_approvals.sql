-- Sluice store, version 4: the approval workflow. A review keeps what its rule asked for
-- (approver groups, quorum, justification, which grants may be given) and which node holds its
-- caller, with a heartbeat: a pending review whose holder stopped beating is cancelled. Votes
-- are rows of their own (one per approver), and grants let later commands of the same shape or
-- session through without asking again, until they expire or are revoked.
ALTER TABLE reviews ADD COLUMN requirements TEXT;
ALTER TABLE reviews ADD COLUMN holder TEXT;
ALTER TABLE reviews ADD COLUMN heartbeat_at TEXT;
CREATE INDEX reviews_command ON reviews (command_hash, status);

CREATE TABLE review_votes (
  review_id      TEXT NOT NULL REFERENCES reviews (id),
  approver       TEXT NOT NULL,
  verdict        TEXT NOT NULL CHECK (verdict IN ('approved', 'rejected')),
  at             TEXT NOT NULL,
  note           TEXT,
  grant_request  TEXT,
  PRIMARY KEY (review_id, approver)
) STRICT;

CREATE TABLE grants (
  id            TEXT PRIMARY KEY,
  review_id     TEXT NOT NULL REFERENCES reviews (id),
  scope         TEXT NOT NULL CHECK (scope IN ('session', 'pattern')),
  rule          TEXT NOT NULL,
  principal     TEXT NOT NULL,
  connection    TEXT NOT NULL,
  session       TEXT,
  pattern       TEXT,
  summary       TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  expires_at    TEXT NOT NULL,
  granted_by    TEXT NOT NULL,
  revoked_at    TEXT,
  revoked_by    TEXT,
  uses          INTEGER NOT NULL DEFAULT 0,
  last_used_at  TEXT
) STRICT;
CREATE INDEX grants_lookup ON grants (principal, connection, rule, expires_at);
