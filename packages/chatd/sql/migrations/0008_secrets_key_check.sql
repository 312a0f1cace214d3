-- A check value of the secrets key that encrypts chat_providers.api_key_encrypted: HMAC-SHA256(key,
-- 'chatd secrets key check v1'). Never the key, and the key cannot be recovered from it; it lets a
-- replica started with another key refuse to start instead of failing turns and re-encrypting keys the
-- other replicas cannot read. One row (singleton is always true), written on the first start and by
-- `chatd secrets rotate`. Not a configuration table: no config-change trigger.
CREATE TABLE secrets_key_check (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  check_value  bytea NOT NULL CHECK (octet_length(check_value) = 32),
  recorded_at  timestamptz NOT NULL DEFAULT now()
);
