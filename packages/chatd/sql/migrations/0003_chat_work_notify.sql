-- Wakes the workers of every replica when a chat becomes pending, whatever made it so (a new chat, a new
-- message, a queued message promoted, a stale turn released). The payload is empty on purpose: NOTIFY
-- folds identical payloads of one transaction into one, and workers only need to know "look again".

CREATE FUNCTION chat_work_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('chat:work', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER chats_work_inserted
  AFTER INSERT ON chats
  FOR EACH ROW WHEN (NEW.status = 'pending')
  EXECUTE FUNCTION chat_work_notify();

CREATE TRIGGER chats_work_updated
  AFTER UPDATE OF status ON chats
  FOR EACH ROW WHEN (NEW.status = 'pending' AND OLD.status IS DISTINCT FROM 'pending')
  EXECUTE FUNCTION chat_work_notify();
