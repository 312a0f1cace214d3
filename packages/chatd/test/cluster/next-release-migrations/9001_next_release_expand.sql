-- chatd:expand
-- What the next release's expand step may do (docs/design.md, "Rolling upgrades"): add nullable or
-- defaulted columns to the tables every turn writes, add tables and indexes. This build must keep
-- working on the schema it leaves.
ALTER TABLE chats ADD COLUMN next_release_label text;
ALTER TABLE chat_messages ADD COLUMN next_release_score integer NOT NULL DEFAULT 0;
ALTER TABLE chat_providers ADD COLUMN next_release_region text;
ALTER TABLE chat_model_configs ADD COLUMN next_release_tier text NOT NULL DEFAULT 'standard';
CREATE TABLE next_release_bookmarks (
  chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  message_id bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chat_id, message_id)
);
CREATE INDEX chats_next_release_label_idx ON chats (next_release_label) WHERE next_release_label IS NOT NULL;
