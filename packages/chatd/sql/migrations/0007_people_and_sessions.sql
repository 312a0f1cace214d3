-- People: passwords, disabling, token expiry, browser sessions, login throttling, and the notification
-- that tells every replica a credential ended (so its open streams close within a second).

-- A PHC-style string ($scrypt$...): the KDF, its parameters, the salt and the hash; never the password.
-- NULL: the user has no password and can only use API tokens.
ALTER TABLE users ADD COLUMN password_hash text CHECK (password_hash LIKE '$scrypt$%');
-- Set while the user is disabled: every token and session of theirs is refused.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;

ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_expiry_after_creation CHECK (expires_at > created_at);

-- A browser session: the cookie carries `<public_id>_<secret>`; only the SHA-256 of the secret is stored
-- (as for API tokens: a 256-bit secret needs no slow hash). The CSRF token is derived from the secret,
-- so it needs no column and leaks nothing without the cookie.
CREATE TABLE user_sessions (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  public_id     text NOT NULL UNIQUE CHECK (public_id ~ '^[a-z0-9]{12}$'),
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  secret_hash   bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  -- The absolute bound; the idle bound is last_seen_at + the server's idle timeout.
  expires_at    timestamptz NOT NULL,
  user_agent    text CHECK (length(user_agent) <= 512),
  CHECK (expires_at > created_at)
);
CREATE INDEX user_sessions_user_id_idx ON user_sessions (user_id);
CREATE INDEX user_sessions_expires_at_idx ON user_sessions (expires_at);

-- Failed logins per key ('user:<lower username>' or 'addr:<ip>') in a fixed window, shared by every
-- replica so that more replicas do not mean more guesses.
CREATE TABLE login_failures (
  key           text PRIMARY KEY CHECK (length(key) <= 200),
  window_start  timestamptz NOT NULL,
  failures      integer NOT NULL CHECK (failures > 0)
);

-- Every end of a credential notifies every replica: a token deleted, a session deleted, a user disabled
-- (or deleted). Payload {kind: 'token'|'session'|'user', id}. Like config changes, NOTIFY is
-- transactional, so the replicas hear it after the commit; each closes the streams that credential
-- opened. A replica whose listener was down re-checks its open streams on reconnect.
CREATE FUNCTION auth_revoked_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM pg_notify('auth:revoked', json_build_object('kind', TG_ARGV[0], 'id', NULL)::text);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('auth:revoked', json_build_object('kind', TG_ARGV[0], 'id', OLD.id)::text);
  ELSE
    -- users UPDATE: only when the user becomes disabled.
    PERFORM pg_notify('auth:revoked', json_build_object('kind', TG_ARGV[0], 'id', NEW.id)::text);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER api_tokens_revoked
  AFTER DELETE ON api_tokens
  FOR EACH ROW EXECUTE FUNCTION auth_revoked_notify('token');
CREATE TRIGGER api_tokens_truncated
  AFTER TRUNCATE ON api_tokens
  FOR EACH STATEMENT EXECUTE FUNCTION auth_revoked_notify('token');
-- An expiry moved earlier (or set) by hand ends the token as surely as a delete.
CREATE TRIGGER api_tokens_expiry_changed
  AFTER UPDATE OF expires_at ON api_tokens
  FOR EACH ROW WHEN (NEW.expires_at IS DISTINCT FROM OLD.expires_at)
  EXECUTE FUNCTION auth_revoked_notify('token');
CREATE TRIGGER user_sessions_ended
  AFTER DELETE ON user_sessions
  FOR EACH ROW EXECUTE FUNCTION auth_revoked_notify('session');
CREATE TRIGGER user_sessions_truncated
  AFTER TRUNCATE ON user_sessions
  FOR EACH STATEMENT EXECUTE FUNCTION auth_revoked_notify('session');
CREATE TRIGGER users_disabled
  AFTER UPDATE OF disabled_at ON users
  FOR EACH ROW WHEN (NEW.disabled_at IS NOT NULL AND OLD.disabled_at IS NULL)
  EXECUTE FUNCTION auth_revoked_notify('user');
CREATE TRIGGER users_deleted
  AFTER DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION auth_revoked_notify('user');
