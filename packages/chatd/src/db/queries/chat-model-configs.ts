import type { Db } from '../connection.js';
import type { ChatModelConfigRow, JsonObject } from '../rows.js';

const COLUMNS =
  'id, provider_id, model, display_name, enabled, is_default, context_limit, max_output_tokens, compression_threshold, options, created_at, updated_at, deleted_at';

/** {@link COLUMNS} of the table aliased `c`. */
const COLUMNS_OF_C = COLUMNS.replace(/(^|, )/g, '$1c.');

/** Fields a model config is created with (options written as JSON). */
export type ChatModelConfigInsert = Pick<
  ChatModelConfigRow,
  'providerId' | 'model' | 'displayName' | 'enabled' | 'isDefault' | 'contextLimit'
> &
  Partial<Pick<ChatModelConfigRow, 'maxOutputTokens' | 'compressionThreshold'>> & { options: JsonObject };

/** Inserts a model config. A second default fails with a unique violation (see {@link clearDefaultChatModelConfig}). */
export async function insertChatModelConfig(
  db: Db,
  input: ChatModelConfigInsert,
): Promise<ChatModelConfigRow> {
  const [row] = await db<[ChatModelConfigRow]>`
    INSERT INTO chat_model_configs
      (provider_id, model, display_name, enabled, is_default, context_limit, max_output_tokens, compression_threshold, options)
    VALUES (${input.providerId}, ${input.model}, ${input.displayName}, ${input.enabled}, ${input.isDefault},
            ${input.contextLimit}, ${input.maxOutputTokens ?? null}::int,
            coalesce(${input.compressionThreshold ?? null}::int, 70), ${db.json(input.options)})
    RETURNING ${db.unsafe(COLUMNS)}`;
  return row!;
}

/** The model config with this id unless soft-deleted: read on every turn (through the config cache). */
export async function getChatModelConfigById(db: Db, id: string): Promise<ChatModelConfigRow | undefined> {
  const [row] = await db<[ChatModelConfigRow?]>`
    SELECT ${db.unsafe(COLUMNS)} FROM chat_model_configs WHERE id = ${id} AND deleted_at IS NULL`;
  return row;
}

/** The default model config (at most one exists), or undefined. */
export async function getDefaultChatModelConfig(db: Db): Promise<ChatModelConfigRow | undefined> {
  const [row] = await db<[ChatModelConfigRow?]>`
    SELECT ${db.unsafe(COLUMNS)} FROM chat_model_configs WHERE is_default AND deleted_at IS NULL`;
  return row;
}

/**
 * Model configs that are not deleted, oldest first. Without `includeDisabled` (what members see), only
 * the usable ones: enabled, and of an enabled provider.
 */
export async function listChatModelConfigs(
  db: Db,
  filter: { includeDisabled: boolean },
): Promise<ChatModelConfigRow[]> {
  return db<ChatModelConfigRow[]>`
    SELECT ${db.unsafe(COLUMNS_OF_C)} FROM chat_model_configs c
    WHERE c.deleted_at IS NULL AND (${filter.includeDisabled} OR (c.enabled AND EXISTS (
      SELECT 1 FROM chat_providers p WHERE p.id = c.provider_id AND p.enabled)))
    ORDER BY c.created_at, c.id`;
}

/** Fields a model config update may change; absent fields stay as they are. */
export type ChatModelConfigPatch = Partial<Omit<ChatModelConfigInsert, 'providerId'>>;

/** Applies a partial update to a model config not deleted; undefined when there is none. */
export async function updateChatModelConfig(
  db: Db,
  id: string,
  patch: ChatModelConfigPatch,
): Promise<ChatModelConfigRow | undefined> {
  const set: Record<string, unknown> = { updated_at: new Date() };
  if (patch.model !== undefined) set.model = patch.model;
  if (patch.displayName !== undefined) set.display_name = patch.displayName;
  if (patch.enabled !== undefined) set.enabled = patch.enabled;
  if (patch.isDefault !== undefined) set.is_default = patch.isDefault;
  if (patch.contextLimit !== undefined) set.context_limit = patch.contextLimit;
  // null resets max_output_tokens to the default.
  if (patch.maxOutputTokens !== undefined) set.max_output_tokens = patch.maxOutputTokens;
  if (patch.compressionThreshold !== undefined) set.compression_threshold = patch.compressionThreshold;
  if (patch.options !== undefined) set.options = db.json(patch.options);
  const [row] = await db<[ChatModelConfigRow?]>`
    UPDATE chat_model_configs SET ${db(set as Record<string, string>)}
    WHERE id = ${id} AND deleted_at IS NULL
    RETURNING ${db.unsafe(COLUMNS)}`;
  return row;
}

/** Clears the default flag (before another config becomes the default, in the same transaction). */
export async function clearDefaultChatModelConfig(db: Db): Promise<void> {
  await db`UPDATE chat_model_configs SET is_default = false, updated_at = now() WHERE is_default AND deleted_at IS NULL`;
}

/** Soft-deletes a model config (chats keep their history); false when there was none to delete. */
export async function softDeleteChatModelConfig(db: Db, id: string): Promise<boolean> {
  const result = await db`
    UPDATE chat_model_configs SET deleted_at = now(), is_default = false, updated_at = now()
    WHERE id = ${id} AND deleted_at IS NULL`;
  return result.count > 0;
}
