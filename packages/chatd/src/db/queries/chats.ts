import type { Db } from '../connection.js';
import type { ChatMessageRow, ChatRow, ChatStatus } from '../rows.js';

const MESSAGE_COLUMNS =
  'id, chat_id, role, content, model_config_id, input_tokens, output_tokens, created_at';

const COLUMNS =
  'id, owner_id, title, status, status_version, model_config_id, worker_id, claim_id, heartbeat_at, last_error, queued_messages, archived, created_at, updated_at';

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

/**
 * Creates a pending chat and its first user message in one statement (atomic without a transaction).
 * The pending status wakes the workers (trigger).
 */
export async function insertChatWithFirstMessage(
  db: Db,
  input: { ownerId: string; title: string; modelConfigId: string | null; content: string },
): Promise<{ chat: ChatRow; message: ChatMessageRow }> {
  const [row] = await db<[ChatRow & { message: ChatMessageRowJson }]>`
    WITH chat AS (
      INSERT INTO chats (owner_id, title, status, model_config_id)
      VALUES (${input.ownerId}, ${input.title}, 'pending', ${input.modelConfigId})
      RETURNING ${db.unsafe(COLUMNS)}
    ), message AS (
      INSERT INTO chat_messages (chat_id, role, content) SELECT id, 'user', ${input.content} FROM chat
      RETURNING id, chat_id, role, content, created_at
    )
    SELECT chat.*, json_build_object('id', message.id, 'role', message.role, 'content', message.content,
                                     'created_at', message.created_at) AS message
    FROM chat, message`;
  const { message, ...chat } = row!;
  return {
    chat: chat as ChatRow,
    message: {
      id: Number(message.id),
      chatId: chat.id,
      role: 'user',
      content: message.content,
      modelConfigId: null,
      inputTokens: null,
      outputTokens: null,
      createdAt: new Date(message.created_at),
    },
  };
}

/** The first message as `json_build_object` returns it. */
interface ChatMessageRowJson {
  id: number;
  role: 'user';
  content: string;
  created_at: string;
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

/** The chat, locked until the transaction ends (serialises sends, interrupts and turn ends per chat). */
export async function getChatByIdForUpdate(db: Db, id: string): Promise<ChatRow | undefined> {
  const [row] = await db<[ChatRow?]>`SELECT ${db.unsafe(COLUMNS)} FROM chats WHERE id = ${id} FOR UPDATE`;
  return row;
}

/**
 * Appends a user message and makes the chat `pending` in one statement (the caller holds the chat's
 * lock and has checked that it is idle). The status change wakes the workers (trigger).
 */
export async function appendUserMessageAndMarkPending(
  db: Db,
  chatId: string,
  content: string,
): Promise<ChatMessageRow & { statusVersion: number }> {
  const [row] = await db<[ChatMessageRow & { statusVersion: number }]>`
    WITH updated AS (
      UPDATE chats SET status = 'pending', last_error = NULL, updated_at = now() WHERE id = ${chatId}
      RETURNING status_version
    ), message AS (
      INSERT INTO chat_messages (chat_id, role, content) VALUES (${chatId}, 'user', ${content})
      RETURNING ${db.unsafe(MESSAGE_COLUMNS)}
    )
    SELECT message.*, updated.status_version FROM message, updated`;
  return row!;
}

/**
 * Claims up to `limit` pending chats for a worker, oldest first. SKIP LOCKED lets replicas acquire
 * concurrently without waiting on each other or claiming a chat twice.
 */
export async function acquirePendingChats(db: Db, workerId: string, limit: number): Promise<ChatRow[]> {
  return db<ChatRow[]>`
    UPDATE chats SET status = 'running', worker_id = ${workerId}, claim_id = gen_random_uuid(),
      heartbeat_at = now(), updated_at = now()
    WHERE id IN (
      SELECT id FROM chats WHERE status = 'pending' AND NOT archived
      ORDER BY updated_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
    )
    RETURNING ${db.unsafe(COLUMNS)}`;
}

/** Heartbeat for every chat a worker runs (one statement per worker, not per chat). */
export async function heartbeatRunningChats(db: Db, workerId: string): Promise<number> {
  const result = await db`
    UPDATE chats SET heartbeat_at = now() WHERE worker_id = ${workerId} AND status = 'running'`;
  return result.count;
}

/**
 * Gives back to `pending` every running chat whose worker stopped heartbeating `staleAfterMs` ago, so
 * another replica finishes it. Returns the chats released.
 */
export async function releaseStaleRunningChats(db: Db, staleAfterMs: number): Promise<string[]> {
  const rows = await db<{ id: string }[]>`
    UPDATE chats SET status = 'pending', worker_id = NULL, claim_id = NULL, heartbeat_at = NULL, updated_at = now()
    WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => ${staleAfterMs / 1000})
    RETURNING id`;
  return rows.map((row) => row.id);
}

/** The assistant's answer saved by {@link completeChatTurn}. */
export interface AssistantMessageInsert {
  content: string;
  modelConfigId: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
}

/**
 * Ends a turn in one statement (atomic without a transaction): saves the assistant message (when given)
 * and sets the next status, but only while `claimId` is still the chat's claim (a stale-heartbeat release
 * may have given the chat to another claim, even on the same replica: then nothing is written and
 * undefined is returned). The next status is `pending` when a message is queued (the next turn promotes
 * it, see `promoteNextQueuedMessage`), else `error` when `lastError` is set, else `waiting`.
 *
 * The queue is read from the chat row's `queued_messages`, not from the queue table: a send that queues
 * a message updates the row under its lock, and this UPDATE, waiting for that lock, re-reads the new row
 * version (a subquery on the queue table would still see the statement's older snapshot).
 */
export async function completeChatTurn(
  db: Db,
  input: {
    chatId: string;
    claimId: string;
    assistant: AssistantMessageInsert | null;
    lastError: string | null;
  },
): Promise<{ status: ChatStatus; statusVersion: number; message: ChatMessageRow | null } | undefined> {
  const a = input.assistant;
  const [row] = await db<
    [
      ({ status: ChatStatus; statusVersion: number } & Partial<ChatMessageRow> & {
          messageId: number | null;
        })?,
    ]
  >`
    WITH done AS (
      UPDATE chats SET
        status = CASE
          WHEN queued_messages > 0 THEN 'pending'
          WHEN ${input.lastError}::text IS NOT NULL THEN 'error'
          ELSE 'waiting' END,
        last_error = ${input.lastError},
        worker_id = NULL, claim_id = NULL, heartbeat_at = NULL, updated_at = now()
      WHERE id = ${input.chatId} AND claim_id = ${input.claimId} AND status = 'running'
      RETURNING status, status_version
    ), saved AS (
      INSERT INTO chat_messages (chat_id, role, content, model_config_id, input_tokens, output_tokens)
      SELECT ${input.chatId}, 'assistant', ${a?.content ?? null}::text, ${a?.modelConfigId ?? null}::uuid,
             ${a?.inputTokens ?? null}::int, ${a?.outputTokens ?? null}::int
      FROM done WHERE ${a?.content ?? null}::text IS NOT NULL
      RETURNING id, chat_id, role, content, model_config_id, input_tokens, output_tokens, created_at
    )
    SELECT done.status, done.status_version, saved.id AS message_id, saved.chat_id, saved.role, saved.content, saved.model_config_id,
           saved.input_tokens, saved.output_tokens, saved.created_at
    FROM done LEFT JOIN saved ON true`;
  if (!row) return undefined;
  const message: ChatMessageRow | null =
    row.messageId === null
      ? null
      : {
          id: row.messageId,
          chatId: row.chatId!,
          role: row.role!,
          content: row.content!,
          modelConfigId: row.modelConfigId ?? null,
          inputTokens: row.inputTokens ?? null,
          outputTokens: row.outputTokens ?? null,
          createdAt: row.createdAt!,
        };
  return { status: row.status, statusVersion: row.statusVersion!, message };
}

/** Gives every chat a worker runs back to `pending` (its replica is shutting down). */
export async function releaseWorkerChats(db: Db, workerId: string): Promise<string[]> {
  const rows = await db<{ id: string }[]>`
    UPDATE chats SET status = 'pending', worker_id = NULL, claim_id = NULL, heartbeat_at = NULL, updated_at = now()
    WHERE worker_id = ${workerId} AND status = 'running'
    RETURNING id`;
  return rows.map((row) => row.id);
}

/**
 * Appends a user message to an idle chat the user owns and makes it `pending`, in one statement: the
 * common case of sending a message. Undefined when the chat is not the user's, archived, busy, or has
 * messages queued (the caller then takes the locking path, which queues or explains).
 */
export async function appendUserMessageIfIdle(
  db: Db,
  input: { chatId: string; ownerId: string; content: string },
): Promise<(ChatMessageRow & { statusVersion: number }) | undefined> {
  const [row] = await db<[(ChatMessageRow & { statusVersion: number })?]>`
    WITH idle AS (
      UPDATE chats SET status = 'pending', last_error = NULL, updated_at = now()
      WHERE id = ${input.chatId} AND owner_id = ${input.ownerId} AND NOT archived AND status IN ('waiting', 'error')
        AND queued_messages = 0
      RETURNING id, status_version
    ), message AS (
      INSERT INTO chat_messages (chat_id, role, content) SELECT id, 'user', ${input.content} FROM idle
      RETURNING ${db.unsafe(MESSAGE_COLUMNS)}
    )
    SELECT message.*, idle.status_version FROM message, idle`;
  return row;
}

/** Cancels a turn that has not started: `pending` → `waiting`. The new status version, or undefined when the chat was not pending. */
export async function cancelPendingChat(db: Db, chatId: string): Promise<number | undefined> {
  const [row] = await db<[{ statusVersion: number }?]>`
    UPDATE chats SET status = 'waiting', updated_at = now() WHERE id = ${chatId} AND status = 'pending'
    RETURNING status_version`;
  return row?.statusVersion;
}
