-- chatd:expand
-- Credentials are cached per replica (src/auth/credential-cache.ts), keyed by their public id, so the
-- revocation notifications of 0007 now also carry `public_id` (tokens and sessions), and a change to a
-- user that a cached credential carries (role, username) notifies too, as kind 'user_changed'. Old
-- builds read 'user_changed' as "anything may have ended" and re-check their open streams: safe.
CREATE OR REPLACE FUNCTION auth_revoked_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  changed record;
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM pg_notify('auth:revoked', json_build_object('kind', TG_ARGV[0], 'id', NULL)::text);
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    changed := OLD;
  ELSE
    changed := NEW;
  END IF;
  PERFORM pg_notify(
    'auth:revoked',
    json_build_object('kind', TG_ARGV[0], 'id', changed.id, 'public_id', to_jsonb(changed) ->> 'public_id')::text
  );
  RETURN NULL;
END
$$;

CREATE TRIGGER users_changed
  AFTER UPDATE OF role, username ON users
  FOR EACH ROW WHEN (NEW.role IS DISTINCT FROM OLD.role OR NEW.username IS DISTINCT FROM OLD.username)
  EXECUTE FUNCTION auth_revoked_notify('user_changed');
