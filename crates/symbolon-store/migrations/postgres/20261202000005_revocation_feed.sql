-- The revocation feed (docs/API.md §2.8): one row per revoked session, written by the
-- database itself when a session's revoked_at is first set, so that every cause of
-- revocation (logout, reuse, DELETE /sessions, password change, disable, and any added
-- later) feeds it. Keep in step with ../sqlite.
--
-- `seq` is the feed's order, and a reader that sees seq n must already see every
-- smaller one (subscribers keep only a cursor). Ids from a sequence do not promise
-- that: a transaction can take id 5 and commit after another's id 6. So the revoking
-- transactions only insert (seq NULL, no lock, no contention between them), and a
-- short sequencer transaction (Store::feed_head) numbers the committed rows under an
-- advisory lock held to its commit: sequencers run one at a time, each one's numbers
-- above the last one's, visible all at once.
CREATE SEQUENCE revocation_seq;
CREATE TABLE revocations (
    id BIGSERIAL PRIMARY KEY,
    seq BIGINT UNIQUE,
    session_id TEXT NOT NULL,
    revoked_at BIGINT NOT NULL
);
CREATE INDEX revocations_unsequenced ON revocations(id) WHERE seq IS NULL;
CREATE INDEX revocations_revoked_at ON revocations(revoked_at);

-- The notification wakes every instance's feed at the commit (LISTEN); the payload is
-- empty, so PostgreSQL folds a transaction's notifications into one.
CREATE FUNCTION symbolon_revocation_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO revocations (session_id, revoked_at) VALUES (NEW.id, NEW.revoked_at);
    PERFORM pg_notify('symbolon_revocations', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_revocation_feed AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION symbolon_revocation_feed();
