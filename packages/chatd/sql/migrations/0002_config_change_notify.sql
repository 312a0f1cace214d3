-- Every write to chat configuration notifies every replica, whoever makes it (API, CLI, a migration, an
-- operator in psql): AFTER triggers call pg_notify('chat:config_change', {kind, id, version}).
-- NOTIFY is transactional: listeners receive it only after the writing transaction commits, and never
-- when it rolls back, so a replica that reloads on the notification reads the committed row.

-- One sequence orders every change; its value is "the config version" replicas report as applied.
CREATE SEQUENCE chat_config_version_seq AS bigint;

-- TG_ARGV[0]: the kind ('providers', 'model_config', 'user_prompt', 'system_prompt').
-- TG_ARGV[1]: the column that identifies the changed thing (absent: the kind has one thing).
-- A statement-level call (TRUNCATE) sends id null: "every thing of this kind".
CREATE FUNCTION chat_config_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  target text;
BEGIN
  IF TG_LEVEL = 'ROW' AND TG_NARGS > 1 THEN
    IF TG_OP = 'DELETE' THEN
      target := to_jsonb(OLD) ->> TG_ARGV[1];
    ELSE
      target := to_jsonb(NEW) ->> TG_ARGV[1];
    END IF;
  END IF;
  PERFORM pg_notify(
    'chat:config_change',
    json_build_object('kind', TG_ARGV[0], 'id', target, 'version', nextval('chat_config_version_seq'))::text
  );
  RETURN NULL;
END
$$;

CREATE TRIGGER chat_providers_config_change
  AFTER INSERT OR UPDATE OR DELETE ON chat_providers
  FOR EACH ROW EXECUTE FUNCTION chat_config_notify('providers', 'id');
CREATE TRIGGER chat_providers_config_truncate
  AFTER TRUNCATE ON chat_providers
  FOR EACH STATEMENT EXECUTE FUNCTION chat_config_notify('providers');

CREATE TRIGGER chat_model_configs_config_change
  AFTER INSERT OR UPDATE OR DELETE ON chat_model_configs
  FOR EACH ROW EXECUTE FUNCTION chat_config_notify('model_config', 'id');
CREATE TRIGGER chat_model_configs_config_truncate
  AFTER TRUNCATE ON chat_model_configs
  FOR EACH STATEMENT EXECUTE FUNCTION chat_config_notify('model_config');

CREATE TRIGGER user_chat_prompts_config_change
  AFTER INSERT OR UPDATE OR DELETE ON user_chat_prompts
  FOR EACH ROW EXECUTE FUNCTION chat_config_notify('user_prompt', 'user_id');
CREATE TRIGGER user_chat_prompts_config_truncate
  AFTER TRUNCATE ON user_chat_prompts
  FOR EACH STATEMENT EXECUTE FUNCTION chat_config_notify('user_prompt');

CREATE TRIGGER deployment_settings_config_change
  AFTER INSERT OR UPDATE OR DELETE ON deployment_settings
  FOR EACH ROW EXECUTE FUNCTION chat_config_notify('system_prompt');
CREATE TRIGGER deployment_settings_config_truncate
  AFTER TRUNCATE ON deployment_settings
  FOR EACH STATEMENT EXECUTE FUNCTION chat_config_notify('system_prompt');
