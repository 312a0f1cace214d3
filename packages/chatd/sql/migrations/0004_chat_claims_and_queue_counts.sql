-- Two facts a turn's end must see on the chat row itself, not in another table:
--
-- claim_id: which claim of the chat a worker holds. worker_id names the replica, and one replica may claim
-- the same chat twice (its heartbeat stalled, the chat was released, it claimed it again): only the
-- current claim may write the turn's answer.
--
-- queued_messages: how many messages wait in chat_queued_messages. A turn's end decides "pending or
-- waiting" in one UPDATE; under READ COMMITTED a concurrent commit to another table is invisible to that
-- statement's snapshot, but a concurrent update of the chat row itself is re-read (the update waits for
-- the row lock and then re-evaluates against the new row version). Sends that queue a message bump this
-- count under the chat's row lock, so no queued message is ever stranded.

ALTER TABLE chats ADD COLUMN claim_id uuid;
ALTER TABLE chats ADD COLUMN queued_messages integer NOT NULL DEFAULT 0 CHECK (queued_messages >= 0);

UPDATE chats c SET queued_messages = (SELECT count(*) FROM chat_queued_messages q WHERE q.chat_id = c.id);
UPDATE chats SET claim_id = gen_random_uuid() WHERE status = 'running';

ALTER TABLE chats DROP CONSTRAINT chats_check;
ALTER TABLE chats ADD CONSTRAINT chats_running_has_claim
  CHECK ((status = 'running') = (worker_id IS NOT NULL AND heartbeat_at IS NOT NULL AND claim_id IS NOT NULL));
