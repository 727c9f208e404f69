-- Counts the events that end a user's sessions (password change, disable). A login
-- starts a session only if the epoch is still the one it read with the password hash,
-- so a password check that raced a change or a disable cannot leave a live session.
ALTER TABLE users ADD COLUMN credential_epoch BIGINT NOT NULL DEFAULT 0;
