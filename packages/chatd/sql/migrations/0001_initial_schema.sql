-- chatd schema: users and tokens, chat configuration, chats, replicas.
-- Rules live here (CHECK, FOREIGN KEY, unique partial indexes) so that every write path obeys them.

CREATE TABLE users (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username    text NOT NULL CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  role        text NOT NULL CHECK (role IN ('admin', 'member')),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

-- Only a SHA-256 of the token's secret is stored; public_id finds the row without revealing anything.
CREATE TABLE api_tokens (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  public_id     text NOT NULL UNIQUE CHECK (public_id ~ '^[a-z0-9]{12}$'),
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  secret_hash   bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

CREATE TABLE chat_providers (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider           text NOT NULL CHECK (provider IN ('openai', 'openai-compat', 'anthropic', 'builtin')),
  display_name       text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  -- AES-256-GCM ciphertext (nonce, tag and data); never the key in clear.
  api_key_encrypted  bytea,
  base_url           text CHECK (base_url ~ '^https?://'),
  enabled            boolean NOT NULL DEFAULT true,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK (provider <> 'openai-compat' OR base_url IS NOT NULL)
);

CREATE TABLE chat_model_configs (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider_id    uuid NOT NULL REFERENCES chat_providers (id) ON DELETE CASCADE,
  model          text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
  display_name   text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  enabled        boolean NOT NULL DEFAULT true,
  is_default     boolean NOT NULL DEFAULT false,
  context_limit  integer NOT NULL CHECK (context_limit > 0),
  options        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(options) = 'object'),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  deleted_at     timestamptz,
  CHECK (NOT (is_default AND deleted_at IS NOT NULL))
);
-- At most one default among the rows not deleted.
CREATE UNIQUE INDEX chat_model_configs_one_default ON chat_model_configs ((true))
  WHERE is_default AND deleted_at IS NULL;
CREATE INDEX chat_model_configs_provider_id_idx ON chat_model_configs (provider_id);

CREATE TABLE user_chat_prompts (
  user_id        uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  custom_prompt  text NOT NULL CHECK (octet_length(custom_prompt) <= 131072),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One row: deployment-wide settings.
CREATE TABLE deployment_settings (
  singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  system_prompt  text NOT NULL DEFAULT '' CHECK (octet_length(system_prompt) <= 131072),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO deployment_settings (singleton) VALUES (true);

CREATE TABLE replicas (
  id                      uuid PRIMARY KEY,
  hostname                text NOT NULL,
  started_at              timestamptz NOT NULL DEFAULT now(),
  heartbeat_at            timestamptz NOT NULL DEFAULT now(),
  applied_config_version  bigint NOT NULL DEFAULT 0 CHECK (applied_config_version >= 0)
);

CREATE TABLE chats (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title            text NOT NULL CHECK (length(title) <= 200),
  status           text NOT NULL CHECK (status IN ('pending', 'running', 'waiting', 'error')),
  model_config_id  uuid REFERENCES chat_model_configs (id) ON DELETE SET NULL,
  -- The replica running the turn; set together with heartbeat_at while status = 'running'.
  worker_id        uuid,
  heartbeat_at     timestamptz,
  last_error       text,
  archived         boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'running') = (worker_id IS NOT NULL AND heartbeat_at IS NOT NULL))
);
CREATE INDEX chats_owner_idx ON chats (owner_id, updated_at DESC);
CREATE INDEX chats_pending_idx ON chats (updated_at) WHERE status = 'pending';
CREATE INDEX chats_running_idx ON chats (heartbeat_at) WHERE status = 'running';

CREATE TABLE chat_messages (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  chat_id          uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  role             text NOT NULL CHECK (role IN ('user', 'assistant')),
  content          text NOT NULL,
  model_config_id  uuid REFERENCES chat_model_configs (id) ON DELETE SET NULL,
  input_tokens     integer CHECK (input_tokens >= 0),
  output_tokens    integer CHECK (output_tokens >= 0),
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_chat_idx ON chat_messages (chat_id, id);

-- Messages sent while a turn runs; promoted in id order when it ends.
CREATE TABLE chat_queued_messages (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  chat_id     uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  content     text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_queued_messages_chat_idx ON chat_queued_messages (chat_id, id);
