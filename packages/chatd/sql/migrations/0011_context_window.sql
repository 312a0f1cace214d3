-- The context window (issue 12): a turn's prompt must fit its model config's context_limit.
--
-- chat_model_configs.max_output_tokens: the reserve for the answer, also sent to the provider as its
-- output limit. NULL means the default (min(4096, context_limit / 4), at least 1, computed by chatd), so
-- that a config using the default follows a change of its context_limit. An explicit value is at most
-- half the context: the other half at least is left for the prompt.
--
-- chat_model_configs.compression_threshold: a percentage of context_limit; a prompt over it has the
-- older part of its history summarised (compaction).
ALTER TABLE chat_model_configs ADD COLUMN max_output_tokens integer
  CONSTRAINT chat_model_configs_max_output_tokens_range
  CHECK (max_output_tokens > 0 AND max_output_tokens <= context_limit / 2);
ALTER TABLE chat_model_configs ADD COLUMN compression_threshold integer NOT NULL DEFAULT 70
  CONSTRAINT chat_model_configs_compression_threshold_range
  CHECK (compression_threshold BETWEEN 1 AND 100);

-- One summary per chat: it stands, in later prompts, for every conversation message with an id up to
-- through_message_id. Messages are never deleted by compaction: the user still sees all of them.
--
-- It can only stand for messages as they are:
-- - a covered message that is deleted (an edit or a regenerate removes messages) takes the summary with
--   it when it is the last covered one (the foreign key); an edit deletes every later message, so any
--   edit of a covered message deletes through_message_id or is through_message_id itself;
-- - a covered message whose content changes drops the summary (the trigger below).
-- input_tokens and output_tokens add up the usage of every summary call of the chat (compactions counts
-- them); token_count is the summary's own size in the chat's tokenizer when it was written.
CREATE TABLE chat_summaries (
  chat_id             uuid PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
  content             text NOT NULL,
  through_message_id  bigint NOT NULL REFERENCES chat_messages (id) ON DELETE CASCADE,
  token_count         integer NOT NULL CHECK (token_count >= 0),
  model_config_id     uuid REFERENCES chat_model_configs (id) ON DELETE SET NULL,
  input_tokens        bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
  output_tokens       bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
  compactions         integer NOT NULL DEFAULT 1 CHECK (compactions > 0),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_summaries_through_idx ON chat_summaries (through_message_id);

CREATE FUNCTION chat_summaries_drop_on_edit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM chat_summaries WHERE chat_id = NEW.chat_id AND through_message_id >= NEW.id;
  RETURN NULL;
END
$$;
CREATE TRIGGER chat_messages_summary_edit
  AFTER UPDATE OF content ON chat_messages
  FOR EACH ROW WHEN (NEW.content IS DISTINCT FROM OLD.content)
  EXECUTE FUNCTION chat_summaries_drop_on_edit();

-- chats.compact_requested: POST /chats/{id}/compact. The next turn of the chat compacts its history first
-- (it takes the request when it reads the history). A request made while a turn runs is for after that
-- turn: compact_requested_claim names the claim that was running when it was made, and when that claim's
-- turn ends with nothing else to do (running -> waiting), the chat becomes pending again instead, so the
-- turn that claims it compacts and answers nothing. A BEFORE trigger, so that every write path that ends
-- a turn obeys it without knowing of it.
--
-- No loop: the trigger fires only for the claim named, once per request. A turn that does not take
-- requests (a replica of the previous release, during a rolling upgrade) leaves the flag set, and the
-- chat still comes to rest: its claim is not the one named.
ALTER TABLE chats ADD COLUMN compact_requested boolean NOT NULL DEFAULT false;
ALTER TABLE chats ADD COLUMN compact_requested_claim uuid;

CREATE FUNCTION chats_compact_after_turn() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.status := 'pending';
  RETURN NEW;
END
$$;
-- Named to fire before chats_status_version (BEFORE triggers fire in name order), which then sees the
-- final status; either order bumps the version once, as running -> pending is a change too.
CREATE TRIGGER chats_a_compact_after_turn
  BEFORE UPDATE OF status ON chats
  FOR EACH ROW WHEN (
    OLD.status = 'running' AND NEW.status = 'waiting' AND NEW.compact_requested AND NOT NEW.archived
    AND NEW.compact_requested_claim = OLD.claim_id)
  EXECUTE FUNCTION chats_compact_after_turn();
