import type { Sql } from '../db/connection.js';
import type { AcceptedMessage } from './fault-load.js';

/** A user message as the database holds it. */
export interface AuditUserMessage {
  readonly id: string;
  readonly chatId: string;
  readonly content: string;
}

/** An assistant message as the database holds it. */
export interface AuditAssistantMessage {
  readonly chatId: string;
  /** The user message it answers (id), when the engine recorded one. */
  readonly replyTo: string | null;
  readonly finishReason: string | null;
}

/** A chat's end state. */
export interface AuditChat {
  readonly id: string;
  readonly status: string;
  readonly turnTakeovers: number;
}

/** What the audit reads from the database. */
export interface AuditDatabase {
  readonly userMessages: readonly AuditUserMessage[];
  readonly assistantMessages: readonly AuditAssistantMessage[];
  /** Messages still waiting in a chat's queue. */
  readonly queuedMessages: readonly { readonly chatId: string; readonly content: string }[];
  readonly chats: readonly AuditChat[];
}

/** The audit's input: the database, the load client's records and the mock LLM's. */
export interface AuditInput {
  readonly database: AuditDatabase;
  readonly accepted: readonly Pick<AcceptedMessage, 'chatId' | 'content' | 'resumes'>[];
  /** Provider calls by the text of their last user message (the mock LLM's records). */
  readonly callsByLastUserMessage: Readonly<Record<string, number>>;
  /** Retries of a provider call per attempt (chatd's default: 3). */
  readonly providerRetries: number;
  /** Takeovers per turn at most (chatd's bound: 3). */
  readonly takeoverBound: number;
}

/** What the audit found. Every count is of user messages unless it says otherwise. */
export interface FaultAudit {
  readonly accepted: number;
  readonly answeredOnce: number;
  readonly endedInError: number;
  /** Accepted, but found neither among the chat's messages nor in its queue. */
  readonly lost: number;
  /** Of every user message in the database, acknowledged or not. */
  readonly answeredTwice: number;
  /** Accepted, in the database, neither answered nor visibly failed. */
  readonly unaccounted: number;
  readonly chatsPendingOrRunning: number;
  /** Provider calls per user message of the database (acknowledged or not). */
  readonly providerCallsMax: number;
  readonly providerCallsMean: number;
  /** User messages whose provider calls exceed (1 + retries) x (1 + takeover bound + the client's resumes). */
  readonly providerCallsOverBound: number;
  /** Provider calls whose last user message is no user message of the database (should be none). */
  readonly unmatchedProviderCalls: number;
  /** User messages in the database the client never got a 2xx for (a retry sent them again). */
  readonly unacknowledgedInDatabase: number;
  readonly turnTakeovers: { readonly total: number; readonly max: number };
  /** A few examples of each failed invariant. */
  readonly samples: readonly string[];
}

/** Reads what the audit needs from the scale test's database. */
export async function readAuditDatabase(sql: Sql): Promise<AuditDatabase> {
  const columns = await sql<{ name: string }[]>`
    SELECT table_name || '.' || column_name AS name FROM information_schema.columns
    WHERE table_schema = current_schema()
      AND (table_name, column_name) IN (('chat_messages', 'reply_to'), ('chat_messages', 'finish_reason'),
                                        ('chats', 'turn_takeovers'))`;
  if (columns.length < 3) {
    const found = new Set(columns.map((column) => column.name));
    const missing = ['chat_messages.reply_to', 'chat_messages.finish_reason', 'chats.turn_takeovers'].filter(
      (name) => !found.has(name),
    );
    throw new Error(
      `the database has no ${missing.join(', ')}: this chatd predates the turn engine (migration 0006), whose records the audit reads`,
    );
  }
  // chatd's connections map column names to camelCase (chat_id: chatId).
  const messages = await sql<
    {
      id: string;
      chatId: string;
      role: string;
      content: string;
      replyTo: string | null;
      finishReason: string | null;
    }[]
  >`SELECT id::text, chat_id::text, role, content, reply_to::text, finish_reason FROM chat_messages`;
  const queued = await sql<{ chatId: string; content: string }[]>`
    SELECT chat_id::text, content FROM chat_queued_messages`;
  const chats = await sql<{ id: string; status: string; turnTakeovers: number }[]>`
    SELECT id::text, status, turn_takeovers FROM chats`;
  return {
    userMessages: messages
      .filter((row) => row.role === 'user')
      .map((row) => ({ id: row.id, chatId: row.chatId, content: row.content })),
    assistantMessages: messages
      .filter((row) => row.role === 'assistant')
      .map((row) => ({ chatId: row.chatId, replyTo: row.replyTo, finishReason: row.finishReason })),
    queuedMessages: queued.map((row) => ({ chatId: row.chatId, content: row.content })),
    chats: chats.map((row) => ({ id: row.id, status: row.status, turnTakeovers: row.turnTakeovers })),
  };
}

/**
 * Checks the turn engine's invariants over the database and the load client's records:
 * - nothing lost: every accepted message is in its chat (as a message, or still queued);
 * - answered at most once: no user message has two answers (assistant messages replying to it whose
 *   finish_reason is not 'error');
 * - every turn ends: no chat is left `pending` or `running`;
 * - every accepted message is answered exactly once or visibly failed: an 'error' message replies to it,
 *   the client resumed it (a later message of the chat, or a retry), or its chat ended in `error`;
 * - no loop: provider calls per user message stay within (1 + retries) x (1 + takeover bound + the
 *   client's resumes of it).
 * User messages are matched to the client's records by (chat, content): a queued message gets a new id
 * when it is promoted, its content stays.
 */
export function auditFaultRun(input: AuditInput): FaultAudit {
  const { database } = input;
  const samples: string[] = [];
  const sampleCounts = new Map<string, number>();
  const sample = (kind: string, line: string) => {
    const count = sampleCounts.get(kind) ?? 0;
    sampleCounts.set(kind, count + 1);
    if (count < 5) samples.push(`${kind}: ${line}`);
  };
  const key = (chatId: string, content: string) => `${chatId}\u0000${content}`;

  const userByKey = new Map<string, AuditUserMessage>();
  const laterUserMessage = new Set<string>();
  const newestUserId = new Map<string, bigint>();
  for (const message of database.userMessages) {
    userByKey.set(key(message.chatId, message.content), message);
    const id = BigInt(message.id);
    const newest = newestUserId.get(message.chatId);
    if (newest === undefined || id > newest) newestUserId.set(message.chatId, id);
  }
  for (const message of database.userMessages) {
    if (BigInt(message.id) < newestUserId.get(message.chatId)!) laterUserMessage.add(message.id);
  }
  const answers = new Map<string, number>();
  const errorReplies = new Set<string>();
  for (const message of database.assistantMessages) {
    if (message.replyTo === null) continue;
    if (message.finishReason === 'error') errorReplies.add(message.replyTo);
    else answers.set(message.replyTo, (answers.get(message.replyTo) ?? 0) + 1);
  }
  const queued = new Set(database.queuedMessages.map((message) => key(message.chatId, message.content)));
  const chatStatus = new Map(database.chats.map((chat) => [chat.id, chat.status]));

  let answeredOnce = 0;
  let endedInError = 0;
  let lost = 0;
  let unaccounted = 0;
  const acceptedKeys = new Set<string>();
  const resumesByContent = new Map<string, number>();
  for (const record of input.accepted) {
    acceptedKeys.add(key(record.chatId, record.content));
    resumesByContent.set(record.content, record.resumes);
    const message = userByKey.get(key(record.chatId, record.content));
    const inError = chatStatus.get(record.chatId) === 'error';
    if (!message) {
      if (!queued.has(key(record.chatId, record.content))) {
        lost += 1;
        sample('lost', `chat ${record.chatId}: ${JSON.stringify(record.content)}`);
      } else if (inError) {
        endedInError += 1;
      } else {
        unaccounted += 1;
        sample(
          'unaccounted',
          `chat ${record.chatId} (${chatStatus.get(record.chatId)}): still queued: ${JSON.stringify(record.content)}`,
        );
      }
      continue;
    }
    const count = answers.get(message.id) ?? 0;
    if (count === 1) answeredOnce += 1;
    else if (count === 0) {
      if (errorReplies.has(message.id) || laterUserMessage.has(message.id) || record.resumes > 0 || inError) {
        endedInError += 1;
      } else {
        unaccounted += 1;
        sample(
          'unaccounted',
          `chat ${record.chatId} (${chatStatus.get(record.chatId)}): message ${message.id} ${JSON.stringify(record.content)} has no answer and no error`,
        );
      }
    }
  }
  let answeredTwice = 0;
  for (const [userId, count] of answers) {
    if (count > 1) {
      answeredTwice += 1;
      sample('answered twice', `user message ${userId}: ${count} answers`);
    }
  }

  const stuck = database.chats.filter((chat) => chat.status === 'pending' || chat.status === 'running');
  for (const chat of stuck) sample('left pending/running', `chat ${chat.id} (${chat.status})`);

  // Provider calls, per user message of the database.
  const contents = new Set(database.userMessages.map((message) => message.content));
  let providerCallsMax = 0;
  let callsTotal = 0;
  let providerCallsOverBound = 0;
  for (const message of database.userMessages) {
    const calls = input.callsByLastUserMessage[message.content] ?? 0;
    callsTotal += calls;
    providerCallsMax = Math.max(providerCallsMax, calls);
    const resumes = resumesByContent.get(message.content) ?? 0;
    const bound = (1 + input.providerRetries) * (1 + input.takeoverBound + resumes);
    if (calls > bound) {
      providerCallsOverBound += 1;
      sample('provider calls over bound', `message ${message.id}: ${calls} calls > ${bound}`);
    }
  }
  let unmatchedProviderCalls = 0;
  for (const [content, calls] of Object.entries(input.callsByLastUserMessage)) {
    if (!contents.has(content)) unmatchedProviderCalls += calls;
  }
  const unacknowledgedInDatabase = database.userMessages.filter(
    (message) => !acceptedKeys.has(key(message.chatId, message.content)),
  ).length;

  return {
    accepted: input.accepted.length,
    answeredOnce,
    endedInError,
    lost,
    answeredTwice,
    unaccounted,
    chatsPendingOrRunning: stuck.length,
    providerCallsMax,
    providerCallsMean: database.userMessages.length === 0 ? 0 : callsTotal / database.userMessages.length,
    providerCallsOverBound,
    unmatchedProviderCalls,
    unacknowledgedInDatabase,
    turnTakeovers: {
      total: database.chats.reduce((sum, chat) => sum + chat.turnTakeovers, 0),
      max: database.chats.reduce((max, chat) => Math.max(max, chat.turnTakeovers), 0),
    },
    samples,
  };
}
