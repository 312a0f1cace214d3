-- Conversations that last: generated titles, token usage, and edits that rewrite the history.

-- How the title came to be. 'pending': the first message's start, to be replaced by a generated title
-- after the first answer; 'generating': a replica is generating it; 'generated': final (generated, or the
-- generation failed and the first message's start stays); 'user': the owner renamed the chat (never
-- overwritten). Chats from before this migration keep their titles: they are 'generated'.
ALTER TABLE chats ADD COLUMN title_state text NOT NULL DEFAULT 'generated'
  CHECK (title_state IN ('pending', 'generating', 'generated', 'user'));
ALTER TABLE chats ALTER COLUMN title_state SET DEFAULT 'pending';

-- Tokens spent by the chat's turns, summed as each turn ends (in the statement that ends it). They are
-- what the chat cost: an edit that removes messages does not give their tokens back.
ALTER TABLE chats ADD COLUMN input_tokens bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0);
ALTER TABLE chats ADD COLUMN output_tokens bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0);

-- The id after which an edit or a regenerate last removed messages (0 when it removed them all, NULL:
-- never). A stream resuming after a later id is sent a `truncate` event and the history from here again:
-- what it holds past this id may be gone.
ALTER TABLE chats ADD COLUMN history_truncated_after bigint CHECK (history_truncated_after >= 0);

-- Usage per day (UTC), user and model config, upserted by the statement that ends each turn. Not tied to
-- chats: deleting a chat removes its content, not what it cost.
CREATE TABLE chat_usage_daily (
  day              date NOT NULL,
  user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- NULL: a turn that ended before a model config was resolved. No foreign key: a ledger outlives the
  -- configs it names (they are soft-deleted anyway).
  model_config_id  uuid,
  input_tokens     bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
  output_tokens    bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
  turns            bigint NOT NULL DEFAULT 0 CHECK (turns >= 0)
);
CREATE UNIQUE INDEX chat_usage_daily_key
  ON chat_usage_daily (day, user_id, coalesce(model_config_id, '00000000-0000-0000-0000-000000000000'::uuid));
CREATE INDEX chat_usage_daily_model_idx ON chat_usage_daily (model_config_id, day);
