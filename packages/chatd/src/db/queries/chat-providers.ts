import type { Db } from '../connection.js';
import type { ChatProviderRow, ProviderKind } from '../rows.js';

const COLUMNS = 'id, provider, display_name, api_key_encrypted, base_url, enabled, created_at, updated_at';

/** Fields a provider is created with. */
export interface ChatProviderInsert {
  provider: ProviderKind;
  displayName: string;
  apiKeyEncrypted: Buffer | null;
  baseUrl: string | null;
  enabled: boolean;
}

/** Inserts a provider. */
export async function insertChatProvider(db: Db, input: ChatProviderInsert): Promise<ChatProviderRow> {
  const [row] = await db<[ChatProviderRow]>`
    INSERT INTO chat_providers (provider, display_name, api_key_encrypted, base_url, enabled)
    VALUES (${input.provider}, ${input.displayName}, ${input.apiKeyEncrypted}, ${input.baseUrl}, ${input.enabled})
    RETURNING ${db.unsafe(COLUMNS)}`;
  return row!;
}

/** The provider with this id, or undefined. */
export async function getChatProviderById(db: Db, id: string): Promise<ChatProviderRow | undefined> {
  const [row] = await db<
    [ChatProviderRow?]
  >`SELECT ${db.unsafe(COLUMNS)} FROM chat_providers WHERE id = ${id}`;
  return row;
}

/**
 * The provider with this id, locked until the transaction ends (`FOR UPDATE`), or undefined: an update
 * that decides from the current row (does this PATCH move the provider?) decides on the row it writes.
 */
export async function lockChatProviderById(db: Db, id: string): Promise<ChatProviderRow | undefined> {
  const [row] = await db<[ChatProviderRow?]>`
    SELECT ${db.unsafe(COLUMNS)} FROM chat_providers WHERE id = ${id} FOR UPDATE`;
  return row;
}

/** Every provider, oldest first. */
export async function listChatProviders(db: Db): Promise<ChatProviderRow[]> {
  return db<ChatProviderRow[]>`SELECT ${db.unsafe(COLUMNS)} FROM chat_providers ORDER BY created_at, id`;
}

/** The enabled providers, oldest first: read on every turn (through the config cache). */
export async function getEnabledChatProviders(db: Db): Promise<ChatProviderRow[]> {
  return db<ChatProviderRow[]>`
    SELECT ${db.unsafe(COLUMNS)} FROM chat_providers WHERE enabled ORDER BY created_at, id`;
}

/** Fields a provider update may change; absent fields stay as they are. */
export type ChatProviderPatch = Partial<
  Pick<ChatProviderInsert, 'provider' | 'displayName' | 'apiKeyEncrypted' | 'baseUrl' | 'enabled'>
>;

/** Applies a partial update; undefined when there is no such provider. */
export async function updateChatProvider(
  db: Db,
  id: string,
  patch: ChatProviderPatch,
): Promise<ChatProviderRow | undefined> {
  const set: Record<string, unknown> = { updated_at: new Date() };
  if (patch.provider !== undefined) set.provider = patch.provider;
  if (patch.displayName !== undefined) set.display_name = patch.displayName;
  if (patch.apiKeyEncrypted !== undefined) set.api_key_encrypted = patch.apiKeyEncrypted;
  if (patch.baseUrl !== undefined) set.base_url = patch.baseUrl;
  if (patch.enabled !== undefined) set.enabled = patch.enabled;
  const [row] = await db<[ChatProviderRow?]>`
    UPDATE chat_providers SET ${db(set as Record<string, string>)} WHERE id = ${id} RETURNING ${db.unsafe(COLUMNS)}`;
  return row;
}

/** Deletes a provider and (by cascade) its model configs; false when there was none. */
export async function deleteChatProvider(db: Db, id: string): Promise<boolean> {
  const result = await db`DELETE FROM chat_providers WHERE id = ${id}`;
  return result.count > 0;
}
