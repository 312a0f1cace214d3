-- Paging and search of a user's chats (GET /api/v1/chats?limit&cursor&q&archived).
--
-- Keyset paging walks one owner's chats by (updated_at DESC, id DESC); the id makes the order total, so
-- a cursor (the last row's pair) resumes exactly where a page ended. This index serves that walk (and
-- the search's: matches are filtered along it) and replaces chats_owner_idx, its prefix.
CREATE INDEX chats_owner_activity_idx ON chats (owner_id, updated_at DESC, id DESC);
DROP INDEX chats_owner_idx;

-- Full-text search ('simple': no stemming, no stop words, any language) over titles and message content.
-- Queries must use these exact expressions (to_tsvector('simple', title) and
-- to_tsvector('simple', left(content, 50000))) for the planner to use the indexes.
--
-- Only the first 50,000 characters of a message are indexed: PostgreSQL refuses a tsvector over 1 MB,
-- and an expression index whose expression fails makes the INSERT fail, so an unbounded to_tsvector of
-- a long answer could make its turn's end impossible to write. 50,000 characters stay far below the
-- limit whatever the text (measured: at most ~350 kB for adversarial text of unique hyphenated words).
CREATE INDEX chats_title_search_idx ON chats USING gin (to_tsvector('simple', title));
CREATE INDEX chat_messages_content_search_idx ON chat_messages
  USING gin (to_tsvector('simple', left(content, 50000)));
