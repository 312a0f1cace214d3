import type { AuthenticatedUser } from '../auth/api-tokens.js';
import type { ChatConfigCache } from '../config/chat-config-cache.js';
import type { ChatRestart } from '../db/queries/chat-history-edits.js';
import type { AcceptedTurn } from '../db/queries/chats.js';
import type { ChatMessageRow, ChatQueuedMessageRow, ChatRow } from '../db/rows.js';
import type { Store } from '../db/store.js';
import { ConflictError, InvalidInputError, NotFoundError, QueueFullError } from '../errors.js';
import { type ChatEvent, type ChatEventHub, toStreamedMessage } from './chat-events.js';
import {
  archivedCondition,
  type ChatListRequest,
  decodeChatCursor,
  encodeChatCursor,
} from './chat-paging.js';
import type { LocalTurns, TurnSlot } from './chat-worker.js';
import type { TurnInterrupts } from './turn-interrupts.js';

/** At most this many messages wait in one chat's queue. */
export const MAX_QUEUED_MESSAGES = 20;
/** Titles are the first characters of the first message. */
const TITLE_LENGTH = 80;

/** A chat with everything a client shows. */
export interface ChatDetail {
  chat: ChatRow;
  /** A page of the newest messages, in ascending id order. */
  messages: ChatMessageRow[];
  /** The smallest id of `messages` when older ones exist, else null. */
  nextBeforeId: number | null;
  queuedMessages: ChatQueuedMessageRow[];
}

/** A page of a user's chats. */
export interface ChatListPage {
  chats: ChatRow[];
  /** Opaque; resumes after the last chat of this page. Null on the last page. */
  nextCursor: string | null;
}

/** What sending a message did. */
export type SendResult =
  | { queued: false; message: ChatMessageRow & { statusVersion: number } }
  | { queued: true; queuedMessage: ChatQueuedMessageRow & { statusVersion: number }; wokeIdleChat?: boolean };

/**
 * The user-facing chat operations. Every write that changes what a turn sees commits in one transaction
 * before the call returns, so a message that got a 2xx is committed; workers are woken by the database
 * (a trigger notifies `chat:work` when a chat becomes pending).
 *
 * Ownership: a chat that is not the caller's is reported as not found, never as forbidden, so ids of other
 * users' chats cannot be probed.
 */
export class ChatService {
  readonly #store: Store;
  readonly #configCache: ChatConfigCache;
  readonly #events: ChatEventHub;
  readonly #interrupts: TurnInterrupts;
  readonly #localTurns: LocalTurns | undefined;

  /**
   * `localTurns`: this replica's worker. With room, a message accepted here is claimed by the statement
   * that accepts it and answered here, with no acquire and no history read; without (or when full), the
   * chat goes `pending` and any replica's worker claims it.
   */
  constructor(deps: {
    store: Store;
    configCache: ChatConfigCache;
    events: ChatEventHub;
    interrupts: TurnInterrupts;
    localTurns?: LocalTurns;
  }) {
    this.#store = deps.store;
    this.#configCache = deps.configCache;
    this.#events = deps.events;
    this.#interrupts = deps.interrupts;
    this.#localTurns = deps.localTurns;
  }

  /**
   * Creates a chat with its first message: `running` on this replica when it has room (see the
   * constructor), else `pending` (a worker picks it up).
   */
  async createChat(
    user: AuthenticatedUser,
    input: { content: string; modelConfigId?: string | undefined },
  ): Promise<{ chat: ChatRow; message: ChatMessageRow }> {
    const content = requireContent(input.content);
    if (input.modelConfigId !== undefined) {
      const config = await this.#configCache.getModelConfigById(input.modelConfigId);
      if (!config?.enabled) {
        throw new InvalidInputError(`model config ${input.modelConfigId} does not exist or is disabled`);
      }
    }
    const { chat, message, claimed } = await this.#withSlot((slot) =>
      this.#store.insertChatWithFirstMessage({
        ownerId: user.id,
        title: titleOf(content),
        modelConfigId: input.modelConfigId ?? null,
        content,
        claimFor: slot?.workerId ?? null,
      }),
    );
    // Claimed here: its turn announces the message, with its `running` status.
    if (!claimed) {
      await this.#events.publish(chat.id, [
        { type: 'message', message: toStreamedMessage(message) },
        { type: 'status', status: 'pending', version: chat.statusVersion },
      ]);
    }
    return { chat, message };
  }

  /**
   * Runs `accept` with a turn slot of this replica when it has room (undefined otherwise), then starts the
   * turn the statement claimed in it, or gives the slot back when it claimed none (or failed).
   */
  async #withSlot<T extends { message: ChatMessageRow; claimed: AcceptedTurn | null } | undefined>(
    accept: (slot: TurnSlot | undefined) => Promise<T>,
  ): Promise<T> {
    const slot = this.#localTurns?.reserveTurn();
    let accepted: T | undefined;
    try {
      accepted = await accept(slot);
    } finally {
      if (slot && !accepted?.claimed) slot.release();
    }
    if (slot && accepted?.claimed) {
      slot.start(accepted.claimed, [{ type: 'message', message: toStreamedMessage(accepted.message) }]);
    }
    return accepted;
  }

  /**
   * One page of the caller's chats, newest activity first, optionally only those matching a full-text
   * search; `nextCursor` resumes after it (null on the last page). See `chat-paging.ts`.
   */
  async listChats(user: AuthenticatedUser, request: ChatListRequest): Promise<ChatListPage> {
    const q = request.q?.trim() ?? '';
    const query = {
      ownerId: user.id,
      archived: archivedCondition(request.archived),
      after: request.cursor === undefined ? null : decodeChatCursor(request.cursor),
      limit: request.limit,
    };
    const page =
      q === ''
        ? await this.#store.listOwnerChatsPage(query)
        : await this.#store.searchOwnerChatsPage({ ...query, query: q });
    return { chats: page.chats, nextCursor: page.next && encodeChatCursor(page.next) };
  }

  /** The chat if the caller owns it; {@link NotFoundError} otherwise. */
  async requireOwnedChat(user: AuthenticatedUser, chatId: string): Promise<ChatRow> {
    const chat = await this.#store.getChatById(chatId);
    if (!chat || chat.ownerId !== user.id) throw new NotFoundError(`chat ${chatId} not found`);
    return chat;
  }

  /**
   * A chat with its newest messages (the `limit` newest below `beforeId` when given, in ascending order)
   * and its whole queue; `nextBeforeId` pages on to older messages (null when there are none).
   */
  async getChat(
    user: AuthenticatedUser,
    chatId: string,
    page: { beforeId?: number | undefined; limit: number },
  ): Promise<ChatDetail> {
    const chat = await this.requireOwnedChat(user, chatId);
    const [messages, queuedMessages] = await Promise.all([
      this.#store.listChatMessagesPage({ chatId, beforeId: page.beforeId ?? null, limit: page.limit }),
      this.#store.listQueuedMessages(chatId),
    ]);
    return { chat, messages: messages.messages, nextBeforeId: messages.nextBeforeId, queuedMessages };
  }

  /**
   * Sends a message: appended and the chat made `pending` when it is idle (`waiting` or `error`); queued
   * when a turn is pending or running (promoted in order when it ends). {@link QueueFullError} past
   * {@link MAX_QUEUED_MESSAGES}.
   */
  async sendMessage(user: AuthenticatedUser, chatId: string, rawContent: string): Promise<SendResult> {
    const content = requireContent(rawContent);
    // The common case in one statement: an idle chat of the caller's takes the message and goes pending,
    // or straight to `running` here when this replica has room (then its turn announces the message).
    const appended = await this.#withSlot(async (slot) => {
      const row = await this.#store.appendUserMessageIfIdle({
        chatId,
        ownerId: user.id,
        content,
        claimFor: slot?.workerId ?? null,
      });
      return row && { message: row, claimed: row.claimed };
    });
    if (appended?.claimed) {
      const { claimed: _claimed, ...message } = appended.message;
      return { queued: false, message };
    }
    const result: SendResult = appended
      ? { queued: false, message: appended.message }
      : await this.#sendToBusyChat(user, chatId, content);
    if (!result.queued) {
      await this.#events.publish(chatId, [
        { type: 'message', message: toStreamedMessage(result.message) },
        { type: 'status', status: 'pending', version: result.message.statusVersion },
      ]);
    } else if (result.wokeIdleChat) {
      await this.#events.publish(chatId, [
        { type: 'status', status: 'pending', version: result.queuedMessage.statusVersion },
      ]);
    }
    return result;
  }

  /** The locking path of {@link sendMessage}: queue for a busy chat, or explain why not. */
  #sendToBusyChat(user: AuthenticatedUser, chatId: string, content: string): Promise<SendResult> {
    return this.#store.transaction(async (tx): Promise<SendResult> => {
      // The row lock orders this against a turn ending: the queue count lives on the chat row, which this
      // transaction updates under the lock, and a turn's end re-reads the row once the lock is free.
      const chat = await tx.getChatByIdForUpdate(chatId);
      if (!chat || chat.ownerId !== user.id) throw new NotFoundError(`chat ${chatId} not found`);
      if (chat.archived) throw new InvalidInputError('the chat is archived: unarchive it to send messages');
      const idle = chat.status === 'waiting' || chat.status === 'error';
      if (idle && chat.queuedMessages === 0) {
        return { queued: false, message: await tx.appendUserMessageAndMarkPending(chatId, content) };
      }
      if (chat.queuedMessages >= MAX_QUEUED_MESSAGES) {
        throw new QueueFullError(`the chat already has ${MAX_QUEUED_MESSAGES} queued messages`);
      }
      // Behind older queued messages: queue it too, and wake the chat if it sat idle (an interrupt can
      // leave an idle chat with a queue), so the queue is answered in order.
      const queuedMessage = await tx.insertQueuedMessage({ chatId, content, markPending: idle });
      return { queued: true, queuedMessage, wokeIdleChat: idle };
    });
  }

  /**
   * Interrupts the chat's current turn, running or still pending: it ends with an `interrupted` answer
   * (its partial text, possibly empty), and then the queue proceeds. Idle chats are left as they are.
   *
   * The interrupt is recorded on the chat row for the turn the caller saw (by its status version, so a
   * later turn is never stopped): the worker that claims a pending turn, or heartbeats a running one,
   * reads it, whatever happened to the notification. A running turn is also told at once through pubsub.
   */
  async interrupt(user: AuthenticatedUser, chatId: string): Promise<void> {
    const chat = await this.requireOwnedChat(user, chatId);
    if (chat.status !== 'running' && chat.status !== 'pending') return;
    // Claiming a pending chat makes it `running` one status version later.
    const runningVersion = chat.status === 'running' ? chat.statusVersion : chat.statusVersion + 1;
    const status = await this.#store.requestChatInterrupt(chatId, runningVersion);
    if (status === 'running') await this.#interrupts.request(chatId, runningVersion);
  }

  /**
   * Resumes a chat whose turn failed (`error`): its unanswered question is asked again, then its queue.
   * {@link ConflictError} when the chat is not in `error`.
   */
  async retry(user: AuthenticatedUser, chatId: string): Promise<void> {
    const chat = await this.requireOwnedChat(user, chatId);
    if (chat.archived) throw new InvalidInputError('the chat is archived: unarchive it to retry');
    const version = await this.#store.retryChat({ chatId, ownerId: user.id });
    if (version === undefined) {
      throw new ConflictError(
        `the chat is ${chat.status === 'error' ? 'no longer' : 'not'} in error: only a failed turn can be retried`,
      );
    }
    await this.#events.publish(chatId, [{ type: 'status', status: 'pending', version }]);
  }

  /**
   * Edits a user message of the history: it and every later message are removed, the edited text is
   * appended as a new user message, the queue is emptied, and the chat runs a turn for it. A turn running
   * meanwhile is interrupted first: its claim is revoked in the same transaction, so it can no longer
   * write its answer, and it is told through pubsub to stop at once.
   * @throws {NotFoundError} for another's chat or a message not in it; {@link InvalidInputError} for an
   *   assistant message, blank content or an archived chat.
   */
  async editMessage(
    user: AuthenticatedUser,
    chatId: string,
    messageId: number,
    rawContent: string,
  ): Promise<ChatMessageRow> {
    const content = requireContent(rawContent);
    const restarted = await this.#restart(user, chatId, async (tx) => {
      const role = await tx.getChatMessageRole({ chatId, messageId });
      if (role === undefined) throw new NotFoundError(`message ${messageId} not found in chat ${chatId}`);
      if (role !== 'user')
        throw new InvalidInputError('only user messages can be edited; regenerate an answer instead');
      return { fromMessageId: messageId, content, clearQueue: true };
    });
    return restarted.message!;
  }

  /**
   * Runs the last answer again: the answer (every assistant message after the last user message) is
   * removed and the chat runs a turn for that question; the queue stays. A running turn is interrupted
   * first, as for {@link editMessage}, and its question asked again.
   * @throws {ConflictError} when there is no answer to regenerate and no turn under way.
   */
  async regenerate(user: AuthenticatedUser, chatId: string): Promise<void> {
    await this.#restart(user, chatId, async (tx, chat) => {
      const start = await tx.getTrailingAnswerStart(chatId);
      const busy = chat.status === 'running' || chat.status === 'pending';
      if (start === undefined && !busy) throw new ConflictError('there is no answer to regenerate');
      // Nothing to remove while a turn is under way for the last question: it is only run again.
      return { fromMessageId: start ?? Number.MAX_SAFE_INTEGER, content: null, clearQueue: false };
    });
  }

  /** Renames a chat; the title is the owner's from now on (no generated title replaces it). */
  async rename(user: AuthenticatedUser, chatId: string, rawTitle: string): Promise<ChatRow> {
    const title = rawTitle.replace(/\s+/g, ' ').trim();
    if (title === '') throw new InvalidInputError('title must not be blank');
    if ([...title].length > 200) throw new InvalidInputError('title must be at most 200 characters');
    const chat = await this.#store.renameChat({ chatId, ownerId: user.id, title });
    if (!chat) throw new NotFoundError(`chat ${chatId} not found`);
    await this.#events.publish(chatId, [{ type: 'title', title }]);
    return chat;
  }

  /**
   * The shared path of edit and regenerate: under the chat's row lock (so no send, claim or turn end
   * interleaves), `plan` decides what to remove; the history is rewritten and the chat made pending; then
   * the running turn, if any, is told to stop, and streams learn of the truncation, the new message and
   * the new status.
   */
  async #restart(
    user: AuthenticatedUser,
    chatId: string,
    plan: (
      tx: Store,
      chat: ChatRow,
    ) => Promise<{ fromMessageId: number; content: string | null; clearQueue: boolean }>,
  ): Promise<ChatRestart> {
    const { restarted, before } = await this.#store.transaction(async (tx) => {
      const chat = await tx.getChatByIdForUpdate(chatId);
      if (!chat || chat.ownerId !== user.id) throw new NotFoundError(`chat ${chatId} not found`);
      if (chat.archived) throw new InvalidInputError('the chat is archived: unarchive it first');
      const steps = await plan(tx, chat);
      return { restarted: await tx.restartChatFrom({ chatId, ...steps }), before: chat };
    });
    // Its claim is gone already (it cannot write an answer); this only stops its provider call at once
    // instead of at its next heartbeat.
    if (before.status === 'running') await this.#interrupts.request(chatId, before.statusVersion);
    const events: ChatEvent[] = [];
    if (restarted.truncatedAfter !== null)
      events.push({ type: 'truncate', after_id: restarted.truncatedAfter });
    if (restarted.message) events.push({ type: 'message', message: toStreamedMessage(restarted.message) });
    events.push({ type: 'status', status: 'pending', version: restarted.statusVersion });
    await this.#events.publish(chatId, events);
    return restarted;
  }

  /**
   * Deletes an owned chat and every row of it; {@link NotFoundError} when it is not the caller's. A turn
   * running on it is stopped at once, as an interrupt would (its provider call is cancelled; its end finds
   * no claim to write under and is discarded, see `ChatWorker`), and open streams of the chat end with a
   * `deleted` event.
   */
  async deleteChat(user: AuthenticatedUser, chatId: string): Promise<void> {
    const deleted = await this.#store.deleteOwnedChat({ chatId, ownerId: user.id });
    if (!deleted) throw new NotFoundError(`chat ${chatId} not found`);
    // The delete has committed: whatever the turn writes from now on matches no claim. Stopping it only
    // makes it end sooner, so a request lost with the notification is no harm: the turn's next heartbeat
    // finds its claim gone and aborts it.
    if (deleted.status === 'running') {
      await this.#interrupts.request(chatId, deleted.statusVersion).catch(() => {});
    }
    await this.#events.publish(chatId, [{ type: 'deleted' }]);
  }

  /**
   * Asks for the chat's history to be compacted (summarised) without racing a turn: the request is
   * recorded on the chat, and whoever runs the chat's next turn compacts first. An idle chat becomes
   * `pending` for a turn that only compacts (it answers nothing); a running turn is followed by one
   * (migration 0011); a chat in `error` or with a pending turn compacts when that turn runs.
   */
  async compact(user: AuthenticatedUser, chatId: string): Promise<void> {
    const chat = await this.requireOwnedChat(user, chatId);
    if (chat.archived) throw new InvalidInputError('the chat is archived: unarchive it to compact it');
    const request = await this.#store.requestChatCompaction({ chatId, ownerId: user.id });
    if (!request) throw new NotFoundError(`chat ${chatId} not found`);
    if (request.woke) {
      await this.#events.publish(chatId, [
        { type: 'status', status: 'pending', version: request.statusVersion },
      ]);
    }
  }

  /** Archives or unarchives an owned chat. */
  async setArchived(user: AuthenticatedUser, chatId: string, archived: boolean): Promise<void> {
    await this.requireOwnedChat(user, chatId);
    await this.#store.setChatArchived(chatId, archived);
  }
}

/** The largest message accepted, in characters. */
export const MAX_MESSAGE_LENGTH = 100_000;

function requireContent(content: string): string {
  if (content.trim().length === 0) throw new InvalidInputError('content must not be blank');
  if (content.length > MAX_MESSAGE_LENGTH) {
    throw new InvalidInputError(`content must be at most ${MAX_MESSAGE_LENGTH} characters`);
  }
  return content;
}

function titleOf(content: string): string {
  const line = content.trim().split('\n', 1)[0]!.trim();
  const chars = [...line];
  return chars.length > TITLE_LENGTH ? `${chars.slice(0, TITLE_LENGTH - 1).join('')}…` : line;
}
