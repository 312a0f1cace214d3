-- Every status change of a chat gets the next number of that chat's status_version (a BEFORE trigger, so
-- no write path can forget it). Status events carry it: streams on any replica can then tell a late
-- event from a newer one, whichever order the replicas' events arrive in.

ALTER TABLE chats ADD COLUMN status_version bigint NOT NULL DEFAULT 1;

CREATE FUNCTION chat_status_version_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.status_version := OLD.status_version + 1;
  RETURN NEW;
END
$$;

CREATE TRIGGER chats_status_version
  BEFORE UPDATE OF status ON chats
  FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status)
  EXECUTE FUNCTION chat_status_version_bump();
