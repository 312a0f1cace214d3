-- The turn engine's invariants (docs/design.md, "The turn engine"), as far as the schema can hold them.
--
-- chat_messages.finish_reason: how an assistant message ended ('stop', 'length', 'interrupted', 'error');
-- every assistant message has one, user messages none. A turn that failed leaves an 'error' answer (its
-- partial text, possibly empty): it is shown to the user but never sent to the model again, and it does not
-- count as the answer, so a retry answers the same question.
--
-- chat_messages.reply_to: the user message (of the same chat) an assistant message answers. "Answered at
-- most once" is the unique index below: one answer that is not an 'error' per user message, whatever any
-- replica does.
--
-- chat_messages.claim_id: the claim that wrote an assistant message; one message per claim. A worker whose
-- completion committed but whose acknowledgement was lost finds its answer by it.
--
-- chats.turn_takeovers: how often the current turn was given back (its replica died, stalled or stopped).
-- Past a bound the chat ends in 'error' instead of being run again: no turn is retried forever.
--
-- chats.interrupt_requested: an interrupt of the current turn, durable. The worker that claims the turn (or
-- runs it: heartbeats read the flag) ends it as interrupted, whether or not the notification reached it.

ALTER TABLE chat_messages ADD COLUMN finish_reason text
  CHECK (finish_reason IN ('stop', 'length', 'interrupted', 'error'));
ALTER TABLE chat_messages ADD COLUMN reply_to bigint;
ALTER TABLE chat_messages ADD COLUMN claim_id uuid;

UPDATE chat_messages SET finish_reason = 'stop' WHERE role = 'assistant';
UPDATE chat_messages a SET reply_to = (
  SELECT max(u.id) FROM chat_messages u WHERE u.chat_id = a.chat_id AND u.role = 'user' AND u.id < a.id
) WHERE a.role = 'assistant';
-- Earlier versions could answer a question twice: keep the first answer as the answer.
UPDATE chat_messages a SET reply_to = NULL
WHERE a.role = 'assistant' AND EXISTS (
  SELECT 1 FROM chat_messages b WHERE b.reply_to = a.reply_to AND b.role = 'assistant' AND b.id < a.id
);

ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_finish_reason_role
  CHECK ((role = 'assistant') = (finish_reason IS NOT NULL));
ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_reply_to_role
  CHECK (role = 'assistant' OR (reply_to IS NULL AND claim_id IS NULL));
CREATE UNIQUE INDEX chat_messages_one_answer ON chat_messages (reply_to)
  WHERE reply_to IS NOT NULL AND finish_reason <> 'error';
CREATE UNIQUE INDEX chat_messages_one_per_claim ON chat_messages (claim_id) WHERE claim_id IS NOT NULL;

-- Replicas of the previous release, still running during a rolling upgrade, insert answers without a
-- finish_reason: those are complete answers.
CREATE FUNCTION chat_messages_default_finish_reason() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.finish_reason := 'stop';
  RETURN NEW;
END
$$;
CREATE TRIGGER chat_messages_finish_reason_default
  BEFORE INSERT ON chat_messages
  FOR EACH ROW WHEN (NEW.role = 'assistant' AND NEW.finish_reason IS NULL)
  EXECUTE FUNCTION chat_messages_default_finish_reason();

ALTER TABLE chats ADD COLUMN turn_takeovers integer NOT NULL DEFAULT 0 CHECK (turn_takeovers >= 0);
ALTER TABLE chats ADD COLUMN interrupt_requested boolean NOT NULL DEFAULT false;
-- The heartbeat names the claims it refreshes.
CREATE INDEX chats_claim_idx ON chats (claim_id) WHERE claim_id IS NOT NULL;
