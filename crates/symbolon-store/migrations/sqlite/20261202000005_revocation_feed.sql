-- The revocation feed (docs/API.md §2.8): one row per revoked session, written by the
-- database itself when a session's revoked_at is first set, so that every cause of
-- revocation (logout, reuse, DELETE /sessions, password change, disable, and any added
-- later) feeds it. `seq` is the feed's order, which must be commit order: SQLite's
-- writes are serial, so the trigger sets it to the id at once. AUTOINCREMENT: an id is
-- never reused after the purge deletes the newest rows. Keep in step with ../postgres.
CREATE TABLE revocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER UNIQUE,
    session_id TEXT NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX revocations_unsequenced ON revocations(id) WHERE seq IS NULL;
CREATE INDEX revocations_revoked_at ON revocations(revoked_at);

CREATE TRIGGER sessions_revocation_feed AFTER UPDATE OF revoked_at ON sessions
FOR EACH ROW WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
BEGIN
    INSERT INTO revocations (session_id, revoked_at) VALUES (NEW.id, NEW.revoked_at);
    UPDATE revocations SET seq = id WHERE seq IS NULL;
END;
