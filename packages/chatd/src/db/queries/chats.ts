import type { Db } from '../connection.js';
import type { ChatRow, ChatStatus } from '../rows.js';

const COLUMNS =
  'id, owner_id, title, status, model_config_id, worker_id, heartbeat_at, last_error, archived, created_at, updated_at';

/** Inserts a chat (not running: `running` needs a worker, see the worker queries). */
export async function insertChat(
  db: Db,
  input: {
    ownerId: string;
    title: string;
    status: Exclude<ChatStatus, 'running'>;
    modelConfigId: string | null;
  },
): Promise<ChatRow> {
  const [row] = await db<[ChatRow]>`
    INSERT INTO chats (owner_id, title, status, model_config_id)
    VALUES (${input.ownerId}, ${input.title}, ${input.status}, ${input.modelConfigId})
    RETURNING ${db.unsafe(COLUMNS)}`;
  return row!;
}

/** The chat with this id, or undefined. */
export async function getChatById(db: Db, id: string): Promise<ChatRow | undefined> {
  const [row] = await db<[ChatRow?]>`SELECT ${db.unsafe(COLUMNS)} FROM chats WHERE id = ${id}`;
  return row;
}

/** A user's chats, most recently updated first. */
export async function listChatsByOwner(
  db: Db,
  ownerId: string,
  filter: { includeArchived: boolean },
): Promise<ChatRow[]> {
  return db<ChatRow[]>`
    SELECT ${db.unsafe(COLUMNS)} FROM chats
    WHERE owner_id = ${ownerId} AND (${filter.includeArchived} OR NOT archived)
    ORDER BY updated_at DESC, id`;
}

/** Archives or unarchives a chat; false when there is none. */
export async function setChatArchived(db: Db, id: string, archived: boolean): Promise<boolean> {
  const result = await db`UPDATE chats SET archived = ${archived}, updated_at = now() WHERE id = ${id}`;
  return result.count > 0;
}
