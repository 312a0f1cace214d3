import { storableText } from '../../util/storable-text.js';
import type { Db } from '../connection.js';
import type { ChatMessageRow, ChatRow, ChatStatus, FinishReason } from '../rows.js';
import type { ChatTurnHistory } from './chat-summaries.js';
import {
  CHAT_COLUMNS as COLUMNS,
  DAILY_USAGE_UPSERT,
  type JoinedMessageColumns,
  joinedMessage,
  MESSAGE_COLUMNS,
  type MessageJson,
  messageFromJson,
  messageJson,
} from './columns.js';

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
 * A turn claimed by the replica that accepted its message, in the statement that accepted it: the chat
 * (`running` under the claim), and the history the turn answers, read by that statement too. The turn
 * then starts with no claim and no history read of its own.
 */
export interface AcceptedTurn {
  readonly chat: ChatRow;
  readonly history: ChatTurnHistory;
}

/**
 * Creates a chat and its first user message in one statement (atomic without a transaction). Without
 * `claimFor` the chat is `pending` and wakes the workers (trigger); with it (the id of a worker with room
 * for the turn) the chat starts `running` under a claim of that worker, and `claimed` is its turn.
 */
export async function insertChatWithFirstMessage(
  db: Db,
  input: {
    ownerId: string;
    title: string;
    modelConfigId: string | null;
    content: string;
    claimFor?: string | null;
  },
): Promise<{ chat: ChatRow; message: ChatMessageRow; claimed: AcceptedTurn | null }> {
  const workerId = input.claimFor ?? null;
  const [row] = await db<[ChatRow & { message: MessageJson }]>`
    WITH chat AS (
      INSERT INTO chats (owner_id, title, status, model_config_id, worker_id, claim_id, heartbeat_at)
      VALUES (${input.ownerId}, ${input.title}, ${workerId === null ? 'pending' : 'running'},
              ${input.modelConfigId}, ${workerId}::uuid,
              CASE WHEN ${workerId}::uuid IS NOT NULL THEN gen_random_uuid() END,
              CASE WHEN ${workerId}::uuid IS NOT NULL THEN now() END)
      RETURNING ${db.unsafe(COLUMNS)}
    ), message AS (
      INSERT INTO chat_messages (chat_id, role, content) SELECT id, 'user', ${input.content} FROM chat
      RETURNING ${db.unsafe(MESSAGE_COLUMNS)}
    )
    SELECT chat.*, ${db.unsafe(messageJson('message'))} AS message FROM chat, message`;
  const { message: json, ...chat } = row!;
  const message = messageFromJson(json);
  // A new chat's history is its first message: nothing to read.
  const history: ChatTurnHistory = { summary: null, messages: [message], compactRequested: false };
  return { chat, message, claimed: workerId === null ? null : { chat, history } };
}

/** The chat with this id, or undefined. */
export async function getChatById(db: Db, id: string): Promise<ChatRow | undefined> {
  const [row] = await db<[ChatRow?]>`SELECT ${db.unsafe(COLUMNS)} FROM chats WHERE id = ${id}`;
  return row;
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

/** A chat {@link acquirePendingChats} claimed, with the history its turn answers when it could read it. */
export interface AcquiredChat extends ChatRow {
  /**
   * The history read by the claiming statement, or null when the chat row changed after the statement's
   * snapshot (then the snapshot's messages may be stale: the turn reads them itself). `compactTaken` is
   * the compaction request the claim took either way.
   */
  readonly history: ChatTurnHistory | null;
  readonly compactTaken: boolean;
}

/**
 * Claims up to `limit` pending chats for `workerId`, oldest first (each gets a new `claim_id`; SKIP LOCKED
 * lets replicas acquire concurrently without waiting on each other or claiming a chat twice), and in the
 * same statement reads what each turn sends: the chat's summary and the messages after it; the claim
 * takes the compaction request.
 *
 * The history comes from the statement's snapshot, while the lock (FOR UPDATE, READ COMMITTED) may have
 * found a newer row version committed after it: an edit of a pending chat (`restartChatFrom`) changes its
 * messages and leaves it pending. Every write that changes a chat's messages also writes its row, so the
 * history is current exactly when the locked row is the snapshot's (same `xmin`); otherwise `history` is
 * null and the turn reads it on its own (rare: a write in the instant between snapshot and lock).
 */
export async function acquirePendingChats(db: Db, workerId: string, limit: number): Promise<AcquiredChat[]> {
  const rows = await db<Array<ChatRow & AcquiredHistoryColumns>>`
    WITH picked AS (
      SELECT id, compact_requested, xmin AS locked_xmin FROM chats WHERE status = 'pending' AND NOT archived
      ORDER BY updated_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE chats c SET status = 'running', worker_id = ${workerId}, claim_id = gen_random_uuid(),
        heartbeat_at = now(), updated_at = now(), compact_requested = false
      FROM picked WHERE c.id = picked.id
      RETURNING ${db.unsafe(QUALIFIED_COLUMNS)}, picked.compact_requested AS compact_taken, picked.locked_xmin
    )
    SELECT claimed.*,
      coalesce((SELECT snapshot.xmin = claimed.locked_xmin FROM chats snapshot WHERE snapshot.id = claimed.id),
               false) AS history_current,
      s.content AS summary_content, s.through_message_id AS summary_through, s.token_count AS summary_tokens,
      (SELECT coalesce(json_agg(${db.unsafe(messageJson('m'))} ORDER BY m.id), '[]'::json)
       FROM chat_messages m
       WHERE m.chat_id = claimed.id AND m.id > coalesce(s.through_message_id, 0)) AS history_messages
    FROM claimed LEFT JOIN chat_summaries s ON s.chat_id = claimed.id`;
  return rows.map((row) => {
    const { lockedXmin: _lockedXmin, historyCurrent, ...rest } = row;
    const { chat, history } = claimedHistoryOf(rest);
    return { ...chat, compactTaken: history.compactRequested, history: historyCurrent ? history : null };
  });
}

/** The history columns of {@link acquirePendingChats}' rows. */
interface AcquiredHistoryColumns extends ClaimedHistoryColumns {
  lockedXmin: string;
  historyCurrent: boolean;
}

/** The history columns of a claiming statement's row (see {@link claimedHistoryOf}). */
interface ClaimedHistoryColumns {
  compactTaken: boolean;
  summaryContent: string | null;
  summaryThrough: number | string | null;
  summaryTokens: number | null;
  /** Null when the statement read no history (it claimed nothing). */
  historyMessages: MessageJson[] | null;
}

/**
 * Splits a claiming statement's row into the chat and the history it read: the summary, the messages
 * after it (`appended` last: a message the statement itself inserted is not in its snapshot) and the
 * compaction request it took.
 */
function claimedHistoryOf<Row extends ClaimedHistoryColumns>(
  row: Row,
  appended: ChatMessageRow[] = [],
): { chat: Omit<Row, keyof ClaimedHistoryColumns>; history: ChatTurnHistory } {
  const { compactTaken, summaryContent, summaryThrough, summaryTokens, historyMessages, ...chat } = row;
  return {
    chat,
    history: {
      summary:
        summaryThrough === null
          ? null
          : {
              content: summaryContent!,
              throughMessageId: Number(summaryThrough),
              tokenCount: summaryTokens ?? 0,
            },
      messages: [...(historyMessages ?? []).map(messageFromJson), ...appended],
      compactRequested: compactTaken,
    },
  };
}

/** {@link COLUMNS} of the `chats` row an UPDATE … FROM returns (qualified: `picked` has an `id` too). */
const QUALIFIED_COLUMNS = COLUMNS.split(', ')
  .map((column) => `c.${column}`)
  .join(', ');

/**
 * Heartbeat for the claims of the turns a worker runs now (one statement per worker, not per chat), and
 * only those: a chat whose turn has ended here, or was taken over, is not kept alive by it. Returns the
 * claims still held, with whether an interrupt was requested for their turn; a claim missing from the
 * result was lost (its chat was taken over).
 */
export async function heartbeatChatClaims(
  db: Db,
  claimIds: readonly string[],
): Promise<{ claimId: string; interruptRequested: boolean }[]> {
  if (claimIds.length === 0) return [];
  return db<{ claimId: string; interruptRequested: boolean }[]>`
    UPDATE chats SET heartbeat_at = now()
    WHERE claim_id = ANY(${claimIds as string[]}::uuid[]) AND status = 'running'
    RETURNING claim_id, interrupt_requested`;
}

/** A chat given back by {@link releaseStaleRunningChats} or {@link releaseWorkerChats}. */
export interface ReleasedChat {
  id: string;
  /** `pending` (another claim runs the turn again) or `error` (it was given back too often). */
  status: ChatStatus;
  statusVersion: number;
  lastError: string | null;
}

/**
 * The assignments that give a running chat back: to `pending` for another claim, or, once the turn has
 * been given back `maxTakeovers` times, to `error` (no turn is run again forever: a chat whose turn kills
 * its replica, or can never be written, ends visibly).
 */
function giveBack(db: Db, maxTakeovers: number) {
  return db`
    status = CASE WHEN turn_takeovers >= ${maxTakeovers} THEN 'error' ELSE 'pending' END,
    last_error = CASE WHEN turn_takeovers >= ${maxTakeovers}
      THEN 'the turn was cut off ' || (turn_takeovers + 1) || ' times by its replica stopping or failing; retry to run it again'
      ELSE last_error END,
    interrupt_requested = interrupt_requested AND turn_takeovers < ${maxTakeovers},
    turn_takeovers = CASE WHEN turn_takeovers >= ${maxTakeovers} THEN 0 ELSE turn_takeovers + 1 END,
    worker_id = NULL, claim_id = NULL, heartbeat_at = NULL, updated_at = now()`;
}

/**
 * Gives back every running chat whose claim stopped heartbeating `staleAfterMs` ago (its replica died,
 * stalled, or its turn gave up), so another claim finishes it; see {@link giveBack}.
 */
export async function releaseStaleRunningChats(
  db: Db,
  staleAfterMs: number,
  maxTakeovers: number,
): Promise<ReleasedChat[]> {
  return db<ReleasedChat[]>`
    UPDATE chats SET ${giveBack(db, maxTakeovers)}
    WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => ${staleAfterMs / 1000})
    RETURNING id, status, status_version, last_error`;
}

/** Gives back every chat a worker runs (its replica is stopping); see {@link giveBack}. */
export async function releaseWorkerChats(
  db: Db,
  workerId: string,
  maxTakeovers: number,
): Promise<ReleasedChat[]> {
  return db<ReleasedChat[]>`
    UPDATE chats SET ${giveBack(db, maxTakeovers)}
    WHERE worker_id = ${workerId} AND status = 'running'
    RETURNING id, status, status_version, last_error`;
}

/** The assistant's message saved by {@link completeChatTurn}. */
export interface AssistantMessageInsert {
  /** Made storable here (see `storableText`): no NUL, no lone surrogate. */
  content: string;
  finishReason: FinishReason;
  /** The user message it answers. */
  replyTo: number;
  modelConfigId: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
}

/** What {@link completeChatTurn} wrote. */
export interface TurnCompletion {
  status: ChatStatus;
  statusVersion: number;
  message: ChatMessageRow | null;
  /** The title given was written (the chat's title was still `pending`; see `TurnTitle`). */
  titleWritten: boolean;
}

/**
 * Ends a turn in one statement (atomic without a transaction): saves the assistant message (when given,
 * tagged with the claim) and sets the next status, but only while `claimId` is still the chat's claim (a
 * takeover may have given the chat to another claim, even on the same replica: then nothing is written
 * and undefined is returned). The next status is `error` when `lastError` is set (the queue is kept: the
 * user's next action resumes the chat, nothing runs again by itself), else `pending` when a message is
 * queued (the next turn promotes it, see `promoteNextQueuedMessage`), else `waiting`.
 *
 * `title`, when given, is the chat's generated title (`value` null: generation failed, the provisional
 * title stays), written in the same statement while the title is still `pending` (a rename wins).
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
    title?: { value: string | null } | null;
  },
): Promise<TurnCompletion | undefined> {
  const a = input.assistant;
  const titled = input.title != null;
  // Made from model output, like the answer: storable first (a NUL would make the whole end refused).
  const title = input.title?.value == null ? null : storableText(input.title.value);
  const [row] = await db<
    [
      ({
        status: ChatStatus;
        statusVersion: number;
        chatTitle: string;
        titleState: string;
      } & JoinedMessageColumns)?,
    ]
  >`
    WITH done AS (
      UPDATE chats SET
        status = CASE
          WHEN ${input.lastError}::text IS NOT NULL THEN 'error'
          WHEN queued_messages > 0 THEN 'pending'
          ELSE 'waiting' END,
        last_error = ${input.lastError},
        turn_takeovers = 0, interrupt_requested = false,
        worker_id = NULL, claim_id = NULL, heartbeat_at = NULL, updated_at = now(),
        input_tokens = input_tokens + ${a?.inputTokens ?? 0}::int,
        output_tokens = output_tokens + ${a?.outputTokens ?? 0}::int,
        title = CASE WHEN ${titled}::boolean AND title_state = 'pending' THEN coalesce(${title}::text, title)
                     ELSE title END,
        title_state = CASE WHEN ${titled}::boolean AND title_state = 'pending' THEN 'generated' ELSE title_state END
      WHERE id = ${input.chatId} AND claim_id = ${input.claimId} AND status = 'running'
      RETURNING status, status_version, owner_id, title, title_state
    ), usage AS (
      -- The day's usage of the owner and model config, in this statement: no turn is counted twice or lost.
      INSERT INTO chat_usage_daily AS u (day, user_id, model_config_id, input_tokens, output_tokens, turns)
      SELECT (now() AT TIME ZONE 'UTC')::date, owner_id, ${a?.modelConfigId ?? null}::uuid,
             ${a?.inputTokens ?? 0}::int, ${a?.outputTokens ?? 0}::int, 1
      FROM done WHERE ${a === null ? null : true}::boolean
      ${db.unsafe(DAILY_USAGE_UPSERT)}
    ), saved AS (
      INSERT INTO chat_messages
        (chat_id, role, content, model_config_id, input_tokens, output_tokens, finish_reason, reply_to, claim_id)
      SELECT ${input.chatId}, 'assistant', ${a ? storableText(a.content) : null}::text,
             ${a?.modelConfigId ?? null}::uuid, ${a?.inputTokens ?? null}::int, ${a?.outputTokens ?? null}::int,
             ${a?.finishReason ?? null}::text, ${a?.replyTo ?? null}::bigint, ${input.claimId}::uuid
      FROM done WHERE ${a === null ? null : true}::boolean
      RETURNING ${db.unsafe(MESSAGE_COLUMNS)}
    )
    SELECT done.status, done.status_version, done.title AS chat_title, done.title_state,
           saved.id AS message_id, saved.chat_id, saved.role, saved.content,
           saved.model_config_id, saved.input_tokens, saved.output_tokens, saved.finish_reason, saved.reply_to,
           saved.created_at
    FROM done LEFT JOIN saved ON true`;
  if (!row) return undefined;
  return {
    status: row.status,
    statusVersion: row.statusVersion!,
    message: joinedMessage(row),
    // Written when the chat now carries this title as `generated` (RETURNING sees only the new row).
    titleWritten: title !== null && row.titleState === 'generated' && row.chatTitle === title,
  };
}

/** A message {@link appendUserMessageIfIdle} appended, and the turn it claimed for it, if asked to. */
export type AppendedMessage = ChatMessageRow & { statusVersion: number; claimed: AcceptedTurn | null };

/**
 * Appends a user message to an idle chat the user owns, in one statement: the common case of sending a
 * message. Without `claimFor` the chat becomes `pending` (the trigger wakes the workers). With it (the id
 * of a worker with room for the turn) the chat becomes `running` under a new claim of that worker, and
 * the same statement reads the history the turn answers: the summary, the messages after it, and the
 * compaction request, which the claim takes. Undefined when the chat is not the user's, archived, busy,
 * or has messages queued (the caller then takes the locking path, which queues or explains).
 *
 * Why the history is current although the statement reads it from its snapshot: the UPDATE re-checks a
 * concurrently changed chat row against its WHERE clause (READ COMMITTED), and every write that changes
 * a chat's messages or summary leaves it `pending` or `running` (a send, an edit, a retry, a turn), which
 * fails `status IN ('waiting', 'error')`. So the UPDATE matches only while the snapshot's messages are the
 * chat's messages. A compaction request on a chat in `error` changes only the flag: the claim takes the
 * request it read, and a request made since stays set for the next turn.
 */
export async function appendUserMessageIfIdle(
  db: Db,
  input: { chatId: string; ownerId: string; content: string; claimFor?: string | null },
): Promise<AppendedMessage | undefined> {
  const workerId = input.claimFor ?? null;
  const claiming = workerId !== null;
  const [row] = await db<[(ChatRow & ClaimedHistoryColumns & { message: MessageJson })?]>`
    WITH before AS MATERIALIZED (
      SELECT c.compact_requested, s.content, s.through_message_id, s.token_count
      FROM chats c LEFT JOIN chat_summaries s ON s.chat_id = c.id
      WHERE c.id = ${input.chatId} AND ${claiming}::boolean
    ), idle AS (
      UPDATE chats SET
        status = ${claiming ? 'running' : 'pending'}, worker_id = ${workerId}::uuid,
        claim_id = CASE WHEN ${claiming}::boolean THEN gen_random_uuid() END,
        heartbeat_at = CASE WHEN ${claiming}::boolean THEN now() END,
        compact_requested = compact_requested AND NOT coalesce((SELECT compact_requested FROM before), false),
        last_error = NULL, updated_at = now()
      WHERE id = ${input.chatId} AND owner_id = ${input.ownerId} AND NOT archived AND status IN ('waiting', 'error')
        AND queued_messages = 0
      RETURNING ${db.unsafe(COLUMNS)}
    ), message AS (
      INSERT INTO chat_messages (chat_id, role, content) SELECT id, 'user', ${input.content} FROM idle
      RETURNING ${db.unsafe(MESSAGE_COLUMNS)}
    )
    SELECT idle.*, ${db.unsafe(messageJson('message'))} AS message,
      coalesce((SELECT compact_requested FROM before), false) AS compact_taken,
      (SELECT content FROM before) AS summary_content,
      (SELECT through_message_id FROM before) AS summary_through,
      (SELECT token_count FROM before) AS summary_tokens,
      CASE WHEN ${claiming}::boolean THEN (
        SELECT coalesce(json_agg(${db.unsafe(messageJson('m'))} ORDER BY m.id), '[]'::json)
        FROM chat_messages m
        WHERE m.chat_id = idle.id AND m.id > coalesce((SELECT through_message_id FROM before), 0)
      ) END AS history_messages
    FROM idle, message`;
  if (!row) return undefined;
  const { message: json, ...rest } = row;
  const message = messageFromJson(json);
  const { chat, history } = claimedHistoryOf(rest, [message]);
  return { ...message, statusVersion: chat.statusVersion, claimed: claiming ? { chat, history } : null };
}

/**
 * Resumes a chat that ended in `error` (the user asked to retry): back to `pending`, `last_error` cleared,
 * queue kept. The new status version, or undefined when the chat is not the user's, archived, or not in
 * `error`.
 */
export async function retryChat(
  db: Db,
  input: { chatId: string; ownerId: string },
): Promise<number | undefined> {
  const [row] = await db<[{ statusVersion: number }?]>`
    UPDATE chats SET status = 'pending', last_error = NULL, updated_at = now()
    WHERE id = ${input.chatId} AND owner_id = ${input.ownerId} AND status = 'error' AND NOT archived
    RETURNING status_version`;
  return row?.statusVersion;
}

/**
 * Records an interrupt of one turn: the turn whose `running` status has `runningVersion`, whether it runs
 * now, is still `pending` one version before (claiming bumps the version by one), or was given back for
 * another claim one version after (a takeover: `turn_takeovers` > 0, which only a give-back leaves on a
 * pending chat). A turn of another version (an older one, or a later one) is never marked. Returns the
 * chat's status when the mark was made, else undefined.
 */
export async function requestChatInterrupt(
  db: Db,
  chatId: string,
  runningVersion: number,
): Promise<ChatStatus | undefined> {
  const [row] = await db<[{ status: ChatStatus }?]>`
    UPDATE chats SET interrupt_requested = true
    WHERE id = ${chatId} AND (
      (status = 'running' AND status_version = ${runningVersion}) OR
      (status = 'pending' AND status_version = ${runningVersion - 1}) OR
      (status = 'pending' AND status_version = ${runningVersion + 1} AND turn_takeovers > 0))
    RETURNING status`;
  return row?.status;
}

/**
 * What a claim's turn end left behind: the chat's status now and the message the claim wrote, if any.
 * A worker whose completion committed while its acknowledgement was lost learns from it that it did.
 * Undefined when the chat no longer exists (it was deleted).
 */
export async function getTurnEnd(
  db: Db,
  chatId: string,
  claimId: string,
): Promise<
  | {
      status: ChatStatus;
      statusVersion: number;
      lastError: string | null;
      message: ChatMessageRow | null;
    }
  | undefined
> {
  const [chat] = await db<[{ status: ChatStatus; statusVersion: number; lastError: string | null }?]>`
    SELECT status, status_version, last_error FROM chats WHERE id = ${chatId}`;
  if (!chat) return undefined;
  const [message] = await db<[ChatMessageRow?]>`
    SELECT ${db.unsafe(MESSAGE_COLUMNS)} FROM chat_messages WHERE chat_id = ${chatId} AND claim_id = ${claimId}`;
  return { ...chat, message: message ?? null };
}

/**
 * Writes a generated title that outlasted its turn (see `TurnTitle`): the title (when given; null keeps
 * the provisional one) and the state `generated`, only while the title is still `pending` (a rename
 * meanwhile wins). Whether it was written.
 */
export async function saveGeneratedTitle(db: Db, chatId: string, title: string | null): Promise<boolean> {
  const rows = await db`
    UPDATE chats SET title = coalesce(${title === null ? null : storableText(title)}, title), title_state = 'generated'
    WHERE id = ${chatId} AND title_state = 'pending'`;
  return rows.count > 0;
}

/** The owner renames a chat: the title is theirs from now on (never replaced by a generated one). */
export async function renameChat(
  db: Db,
  input: { chatId: string; ownerId: string; title: string },
): Promise<ChatRow | undefined> {
  const [row] = await db<[ChatRow?]>`
    UPDATE chats SET title = ${input.title}, title_state = 'user', updated_at = now()
    WHERE id = ${input.chatId} AND owner_id = ${input.ownerId}
    RETURNING ${db.unsafe(COLUMNS)}`;
  return row;
}
