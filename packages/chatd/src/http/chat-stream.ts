import type { FastifyBaseLogger } from 'fastify';
import type { AuthenticatedUser } from '../auth/api-tokens.js';
import type { ChatEvent, ChatEventHub, StreamedMessage } from '../chat/chat-events.js';
import { toStreamedMessage } from '../chat/chat-events.js';
import type { ChatService } from '../chat/chat-service.js';
import type { ChatMessageRow, ChatRow } from '../db/rows.js';
import type { Store } from '../db/store.js';
import { NotFoundError } from '../errors.js';
import type { SseResponse } from './sse.js';

/** What a chat stream needs. */
export interface ChatStreamDependencies {
  readonly store: Store;
  readonly chatService: ChatService;
  readonly events: ChatEventHub;
  readonly logger: FastifyBaseLogger;
}

/** Which chat, for whom, and from where. */
export interface ChatStreamRequest {
  readonly user: AuthenticatedUser;
  readonly chatId: string;
  /** Messages with an id up to this one are not sent (the client has them); 0 for all. */
  readonly afterId: number;
}

/** A `message` event that was too large for NOTIFY: its content must be read from the store. */
type TruncatedMessage = StreamedMessage & { truncated: true };

/**
 * A stream opened without `after_id` starts with at most this many of the newest messages (as the first
 * page of `GET /chats/{id}`); older ones are paged with `GET /chats/{id}?before_id=`.
 */
export const STREAM_SNAPSHOT_MESSAGES = 50;
/**
 * A stream that resumes (`after_id`, `Last-Event-ID`) gets every message after that id, never a silent
 * cut: read and sent this many at a time, so a long gap costs one batch of memory, and a client too slow
 * for it is disconnected by the send buffer bound and resumes from what it got.
 */
export const STREAM_CATCH_UP_BATCH = 500;

/**
 * One client's stream of one chat: the current state from the store, then live events, with nothing
 * lost and no message sent twice.
 *
 * Ordering (the race this class exists for):
 * 1. Subscribe to the hub FIRST; events are queued, not sent.
 * 2. Then read the snapshot (the chat's status, then its messages: after `afterId` on a resume, else
 *    the newest {@link STREAM_SNAPSHOT_MESSAGES}; a resume's first batch, the rest follows before any
 *    queued event). Every publisher commits before it publishes, so an event published before the
 *    subscription describes a commit the snapshot already shows, and every later one is queued: nothing
 *    falls in between. Reading first and subscribing after would lose whatever was committed and
 *    published in that gap.
 * 3. Send the snapshot, then drain the queue and go live. A `message` whose id was already sent is skipped
 *    (the snapshot had it). A `status` is always replayed: the last one sent is the current status.
 *
 * `message_part` events carry no message id but the status version of the `running` status of the claim
 * that streamed them: a part is forwarded only while that is the status last sent. Parts of a turn the
 * snapshot already shows finished, and parts of a claim that was taken over (its replica stalled, and
 * streams on after the new owner started), are dropped.
 *
 * Events are written strictly in arrival order: a `message` event too large for NOTIFY (`truncated`) is
 * replaced by reading the messages after the last one sent from the store, and later events wait for it.
 */
export class ChatStream {
  readonly #deps: ChatStreamDependencies;
  readonly #request: ChatStreamRequest;
  readonly #sse: SseResponse;
  readonly #queue: ChatEvent[] = [];
  #unsubscribe: (() => void) | undefined;
  /** The last status sent (with {@link #statusVersion}, it decides which parts are forwarded). */
  #status = '';
  #live = false;
  #draining = false;
  /** The snapshot was one full batch of a resume: the rest is sent before any queued event. */
  #catchingUp = false;
  #lastSentMessageId: number;
  /**
   * Messages sent so far. Replicas' events can arrive out of order (a user message published by one
   * replica after the answer published by another): a message is skipped only if it was sent, not
   * because a larger id was.
   */
  readonly #sentMessageIds = new Set<number>();
  /** Messages up to this id are the client's already (lowered by a truncation). */
  #afterId: number;
  /** Set when the client resumes past the chat's last truncation: it is told before the history. */
  #resumeTruncatedAt: number | undefined;
  /** The version of the last status sent: an older status arriving late is dropped. */
  #statusVersion = 0;

  private constructor(deps: ChatStreamDependencies, request: ChatStreamRequest, sse: SseResponse) {
    this.#deps = deps;
    this.#request = request;
    this.#sse = sse;
    this.#lastSentMessageId = request.afterId;
    this.#afterId = request.afterId;
  }

  /**
   * Opens a stream: subscribes, reads the snapshot, then calls `begin` (which must hijack the reply) and
   * writes. Throws before `begin`, with nothing written, when the chat is not the caller's
   * (`NotFoundError`) or the store fails, so the caller answers with an ordinary error response.
   */
  static async open(
    deps: ChatStreamDependencies,
    request: ChatStreamRequest,
    sse: SseResponse,
    begin: () => void,
  ): Promise<ChatStream> {
    const stream = new ChatStream(deps, request, sse);
    stream.#unsubscribe = deps.events.subscribe(request.chatId, (events) => stream.#receive(events));
    sse.onClose(() => stream.#stop());
    let snapshot: Snapshot;
    try {
      snapshot = await stream.#readSnapshot();
    } catch (error) {
      stream.#stop();
      throw error;
    }
    if (sse.closed) return stream;
    begin();
    // From here on the response is ours: a failure can only end the stream (the client resumes on
    // reconnect), never become an error response.
    try {
      sse.open();
      stream.#sendSnapshot(snapshot.chat, snapshot.messages);
      stream.#catchingUp = snapshot.more;
      stream.#live = true;
      void stream.#drain();
    } catch (error) {
      deps.logger.error({ err: error, chatId: request.chatId }, 'chat stream failed; closing it');
      sse.close();
    }
    return stream;
  }

  async #readSnapshot(): Promise<Snapshot> {
    // The status and the messages in one statement (one snapshot): a turn that ends after it shows as its
    // message and a later status event.
    const { chatId, user } = this.#request;
    const snapshot = await this.#deps.store.getChatStreamSnapshot({
      chatId,
      ownerId: user.id,
      afterId: this.#afterId,
      newest: STREAM_SNAPSHOT_MESSAGES,
      batch: STREAM_CATCH_UP_BATCH,
    });
    if (!snapshot) throw new NotFoundError(`chat ${chatId} not found`);
    // A client resuming past the last edit may hold messages that are gone: it is sent a truncation and
    // everything after it again.
    if (snapshot.resumedAt !== null) {
      this.#resumeTruncatedAt = snapshot.resumedAt;
      this.#afterId = snapshot.resumedAt;
      this.#lastSentMessageId = snapshot.resumedAt;
    }
    // The newest page of a fresh stream is all it is sent; a resume may go on past one batch.
    const more = this.#request.afterId !== 0 && snapshot.messages.length === STREAM_CATCH_UP_BATCH;
    return { chat: snapshot.chat, messages: snapshot.messages, more };
  }

  #sendSnapshot(chat: ChatRow, messages: readonly ChatMessageRow[]): void {
    this.#status = chat.status;
    this.#statusVersion = chat.statusVersion;
    this.#sse.send('status', { status: chat.status, last_error: chat.lastError });
    if (this.#resumeTruncatedAt !== undefined)
      this.#sse.send('truncate', { after_id: this.#resumeTruncatedAt });
    for (const message of messages) this.#sendMessage(toStreamedMessage(message));
  }

  #receive(events: readonly ChatEvent[]): void {
    if (this.#sse.closed) return;
    this.#queue.push(...events);
    if (this.#live) void this.#drain();
  }

  /** Writes queued events in order; one drain at a time, so an awaited store read keeps the order. */
  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      if (this.#catchingUp) {
        this.#catchingUp = false;
        await this.#sendMessagesFromStore();
      }
      for (let next = this.#queue.shift(); next && !this.#sse.closed; next = this.#queue.shift()) {
        await this.#deliver(next);
      }
    } catch (error) {
      // The client resumes from its Last-Event-ID on reconnect; nothing is lost by ending here.
      this.#deps.logger.warn({ err: error, chatId: this.#request.chatId }, 'chat stream failed; closing it');
      this.#sse.close();
    } finally {
      this.#draining = false;
    }
  }

  async #deliver(event: ChatEvent): Promise<void> {
    switch (event.type) {
      case 'message':
        if (event.message.id <= this.#afterId || this.#sentMessageIds.has(event.message.id)) return;
        if (isTruncated(event.message)) await this.#sendMessagesFromStore();
        else this.#sendMessage(event.message);
        return;
      case 'status': {
        if (event.version <= this.#statusVersion) return;
        this.#statusVersion = event.version;
        this.#status = event.status;
        const { version: _, ...status } = withoutType(event);
        this.#sse.send('status', status);
        return;
      }
      case 'message_part':
        if (this.#status === 'running' && event.version === this.#statusVersion) {
          this.#sse.send('message_part', { text: event.text });
        }
        return;
      case 'resync': {
        // Events may have been missed (the pubsub listener reconnected): catch up from the database.
        const chat = await this.#deps.chatService
          .requireOwnedChat(this.#request.user, this.#request.chatId)
          .catch((error: unknown) => {
            if (error instanceof NotFoundError) return undefined;
            throw error;
          });
        // Deleted meanwhile, its `deleted` event among the missed ones.
        if (!chat) return this.#endDeleted();
        // A truncation may be among the missed events: apply it again (at worst, messages the client
        // holds are sent again, and replace themselves by id).
        const truncatedAfter = chat.historyTruncatedAfter;
        if (truncatedAfter !== null && this.#lastSentMessageId > truncatedAfter)
          this.#truncate(truncatedAfter);
        await this.#sendMessagesFromStore();
        if (chat.statusVersion > this.#statusVersion) {
          this.#statusVersion = chat.statusVersion;
          this.#status = chat.status;
          this.#sse.send('status', { status: chat.status, last_error: chat.lastError });
        }
        return;
      }
      case 'error':
        this.#sse.send('error', withoutType(event));
        return;
      case 'title':
        this.#sse.send('title', withoutType(event));
        return;
      case 'truncate':
        this.#truncate(event.after_id);
        return;
      case 'deleted':
        this.#endDeleted();
        return;
    }
  }

  /** Messages after `afterId` are gone: forget them, tell the client, and accept their successors. */
  #truncate(afterId: number): void {
    for (const id of this.#sentMessageIds) if (id > afterId) this.#sentMessageIds.delete(id);
    this.#lastSentMessageId = Math.min(this.#lastSentMessageId, afterId);
    this.#afterId = Math.min(this.#afterId, afterId);
    this.#sse.send('truncate', { after_id: afterId });
  }

  /** The chat is gone: a last `deleted` event, then the end (a reconnect would get 404). */
  #endDeleted(): void {
    this.#sse.send('deleted', { chat_id: this.#request.chatId });
    this.#sse.close();
  }

  /** Sends every message after the last one sent, read in batches. */
  async #sendMessagesFromStore(): Promise<void> {
    const chatId = this.#request.chatId;
    for (;;) {
      const afterId = this.#lastSentMessageId;
      const rows = await this.#deps.store.listChatMessagesAfter({
        chatId,
        afterId,
        limit: STREAM_CATCH_UP_BATCH,
      });
      for (const row of rows) {
        if (this.#sse.closed) return;
        this.#sendMessage(toStreamedMessage(row));
      }
      if (rows.length < STREAM_CATCH_UP_BATCH) return;
    }
  }

  #sendMessage(message: StreamedMessage): void {
    if (this.#sentMessageIds.has(message.id)) return;
    this.#sentMessageIds.add(message.id);
    this.#sse.send('message', message, message.id);
    this.#lastSentMessageId = Math.max(this.#lastSentMessageId, message.id);
  }

  #stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#queue.length = 0;
  }
}

/** What a stream sends first: the chat's status and a first batch of messages. */
interface Snapshot {
  chat: ChatRow;
  messages: ChatMessageRow[];
  /** The batch was full: more messages follow (a resume). */
  more: boolean;
}

function isTruncated(message: StreamedMessage): message is TruncatedMessage {
  return (message as { truncated?: unknown }).truncated === true;
}

function withoutType<E extends ChatEvent>(event: E): Omit<E, 'type'> {
  const { type: _type, ...data } = event;
  return data;
}
