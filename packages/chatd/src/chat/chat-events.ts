import type { Logger } from 'pino';
import type { ChatMessageRow, ChatStatus } from '../db/rows.js';
import type { Pubsub } from '../pubsub/pubsub.js';

/** The pubsub channel chat events travel on between replicas (one channel; events carry their chat). */
export const CHAT_EVENTS_CHANNEL = 'chat:events';

/** A message as streamed to clients. */
export interface StreamedMessage {
  id: number;
  role: ChatMessageRow['role'];
  content: string;
  model_config_id: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  /** Assistant messages: `stop`, `length`, `interrupted` or `error`; null on user messages. */
  finish_reason: ChatMessageRow['finishReason'];
  /** Assistant messages: the id of the user message answered. */
  reply_to: number | null;
  created_at: string;
}

/** What a chat's stream carries (the SSE event name is `type`). */
export type ChatEvent =
  /** `version` is the chat's status version (see `ChatRow.statusVersion`): a later status has a larger one. */
  | { type: 'status'; status: ChatStatus; version: number; last_error?: string | null }
  /**
   * Streamed text of the running turn whose `running` status has `version`: a stream forwards it only
   * while that is the status it last sent, so parts of a claim that was taken over never follow the new
   * owner's status.
   */
  | { type: 'message_part'; text: string; version: number }
  | { type: 'message'; message: StreamedMessage }
  | { type: 'error'; message: string }
  /** The chat's title changed (generated after the first answer, or renamed by its owner). */
  | { type: 'title'; title: string }
  /**
   * An edit or a regenerate removed every message after `after_id`: clients drop what they hold past it;
   * what follows (the edited message, new answers) comes as `message` events.
   */
  | { type: 'truncate'; after_id: number }
  /** The chat was deleted: streams send a last `deleted` event and end. */
  | { type: 'deleted' }
  /**
   * Local only, never sent to clients: events may have been missed (the pubsub listener reconnected), so
   * a stream must catch up from the database.
   */
  | { type: 'resync' };

/** One publication: events of one chat, in order. */
interface Envelope {
  /** The replica that published it: it already delivered locally and skips its own echo. */
  r: string;
  c: string;
  e: readonly ChatEvent[];
}

export type ChatEventListener = (events: readonly ChatEvent[]) => void;

/** The largest payload sent through NOTIFY (PostgreSQL refuses payloads of 8000 bytes or more). */
const MAX_ENVELOPE_BYTES = 7_900;

/** The row as a client sees it. */
export function toStreamedMessage(row: ChatMessageRow): StreamedMessage {
  return {
    id: row.id,
    role: row.role,
    content: row.content,
    model_config_id: row.modelConfigId,
    input_tokens: row.inputTokens,
    output_tokens: row.outputTokens,
    finish_reason: row.finishReason,
    reply_to: row.replyTo,
    created_at: row.createdAt.toISOString(),
  };
}

/**
 * Delivers chat events to the streams open on every replica. Local listeners get events synchronously;
 * other replicas get them through pubsub (LISTEN/NOTIFY), in publication order.
 *
 * An envelope too large for NOTIFY is split into several; a single `message` event too large even alone is
 * sent as a reference (`content` omitted, `truncated` set) and stream handlers read it from the database.
 */
export class ChatEventHub {
  readonly #listeners = new Map<string, Set<ChatEventListener>>();
  readonly #pubsub: Pubsub;
  readonly #replicaId: string;
  readonly #logger: Logger;
  #unsubscribe: (() => Promise<void>) | undefined;
  #removeResetListener: (() => void) | undefined;
  /** Envelopes waiting for the next batch. */
  #pending: string[] = [];
  /** The next batch, scheduled for the end of this turn of the event loop. */
  #nextBatch: Promise<void> | undefined;
  /** The batches sent so far, chained: each starts when the previous one is published. */
  #sent: Promise<void> = Promise.resolve();

  constructor(options: { pubsub: Pubsub; replicaId: string; logger: Logger }) {
    this.#pubsub = options.pubsub;
    this.#replicaId = options.replicaId;
    this.#logger = options.logger;
  }

  /** Starts receiving other replicas' events; after a pubsub reset, tells every local stream to resync. */
  async start(): Promise<void> {
    this.#unsubscribe = await this.#pubsub.subscribe(CHAT_EVENTS_CHANNEL, (payload) =>
      this.#receive(payload),
    );
    this.#removeResetListener = this.#pubsub.onReset(() => {
      for (const chatId of [...this.#listeners.keys()]) this.#deliver(chatId, [{ type: 'resync' }]);
    });
  }

  async stop(): Promise<void> {
    this.#removeResetListener?.();
    this.#removeResetListener = undefined;
    await this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Listens to one chat's events; returns the function that stops listening. */
  subscribe(chatId: string, listener: ChatEventListener): () => void {
    let set = this.#listeners.get(chatId);
    if (!set) {
      set = new Set();
      this.#listeners.set(chatId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(chatId) === set) this.#listeners.delete(chatId);
    };
  }

  /** Whether any local stream follows this chat. */
  hasLocalListeners(chatId: string): boolean {
    return this.#listeners.has(chatId);
  }

  /**
   * Publishes events of one chat: delivered locally at once, then to the other replicas. Resolves once
   * they have been handed to the database. Never throws: a failed publish is logged (streams on other
   * replicas then catch up from the database on reconnect).
   *
   * Batching: envelopes published in the same turn of the event loop travel together, packed into as few
   * notifications as fit (under load, many chats share one NOTIFY). Batches are sent one after another,
   * so every replica receives each chat's events in publication order.
   */
  publish(chatId: string, events: readonly ChatEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    this.#deliver(chatId, events);
    this.#pending.push(...this.#envelopes(chatId, events));
    if (!this.#nextBatch) {
      // One batch in flight at most, and one waiting behind it that takes every envelope published
      // until it starts: while the database is slow (or away), what is published meanwhile travels
      // together in one batch instead of a queue of batches, one per event, each waiting its turn.
      const next = this.#sent
        .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
        .then(() => {
          this.#nextBatch = undefined;
          return this.#send(this.#pending.splice(0));
        });
      this.#nextBatch = next;
      this.#sent = next;
    }
    return this.#nextBatch;
  }

  /** Publishes envelopes packed into payloads under the NOTIFY limit, in order. */
  async #send(envelopes: string[]): Promise<void> {
    let payload = '';
    let bytes = 0;
    let failed = false;
    const flush = async () => {
      if (payload === '' || failed) return;
      const text = `[${payload}]`;
      payload = '';
      bytes = 0;
      try {
        await publishWithin(this.#pubsub, text, PUBLISH_TIMEOUT_MS);
      } catch (error) {
        // The rest of this batch would wait and fail the same way: the other replicas' streams catch up
        // from the database anyway (their listener or this publisher is gone).
        failed = true;
        this.#logger.warn({ err: error }, 'could not publish chat events to other replicas');
      }
    };
    for (const envelope of envelopes) {
      const size = Buffer.byteLength(envelope);
      // +3: the brackets and a comma.
      if (payload !== '' && bytes + size + 3 > MAX_ENVELOPE_BYTES) await flush();
      if (failed) return;
      payload = payload === '' ? envelope : `${payload},${envelope}`;
      bytes += size + 1;
    }
    await flush();
  }

  #envelopes(chatId: string, events: readonly ChatEvent[]): string[] {
    const whole = JSON.stringify({ r: this.#replicaId, c: chatId, e: events } satisfies Envelope);
    if (Buffer.byteLength(whole) <= MAX_ENVELOPE_BYTES) return [whole];
    // Too large together: one envelope per event, shrinking the ones too large alone.
    return events.flatMap((event) => {
      const single = JSON.stringify({ r: this.#replicaId, c: chatId, e: [event] } satisfies Envelope);
      if (Buffer.byteLength(single) <= MAX_ENVELOPE_BYTES) return [single];
      if (event.type === 'message_part') return splitPart(this.#replicaId, chatId, event);
      if (event.type === 'message') {
        const reference = { ...event.message, content: '', truncated: true };
        return [
          JSON.stringify({ r: this.#replicaId, c: chatId, e: [{ type: 'message', message: reference }] }),
        ];
      }
      const error = { type: 'error', message: 'error message too long to stream' };
      return [JSON.stringify({ r: this.#replicaId, c: chatId, e: [error] })];
    });
  }

  #receive(payload: string): void {
    let envelopes: Envelope[];
    try {
      const parsed = JSON.parse(payload) as Envelope | Envelope[];
      envelopes = Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      this.#logger.warn('ignoring a malformed chat event');
      return;
    }
    for (const envelope of envelopes) {
      // Our own events were delivered locally when published.
      if (envelope.r !== this.#replicaId) this.#deliver(envelope.c, envelope.e);
    }
  }

  #deliver(chatId: string, events: readonly ChatEvent[]): void {
    const listeners = this.#listeners.get(chatId);
    if (!listeners) return;
    for (const listener of [...listeners]) {
      try {
        listener(events);
      } catch (error) {
        this.#logger.error({ err: error, chatId }, 'chat event listener failed');
      }
    }
  }
}

/** Splits a long text part into envelopes that fit, on code point boundaries. */
function splitPart(
  replicaId: string,
  chatId: string,
  event: Extract<ChatEvent, { type: 'message_part' }>,
): string[] {
  const envelopes: string[] = [];
  const chars = [...event.text];
  // JSON escaping can grow a character to 6 bytes (\u001f); 1,000 characters always fit.
  for (let start = 0; start < chars.length; start += 1_000) {
    const part = {
      type: 'message_part',
      text: chars.slice(start, start + 1_000).join(''),
      version: event.version,
    };
    envelopes.push(JSON.stringify({ r: replicaId, c: chatId, e: [part] }));
  }
  return envelopes;
}

/**
 * How long one NOTIFY of chat events may take. Batches are sent one after another (so every replica
 * receives a chat's events in order): a NOTIFY that never answers, such as one sent on a connection that
 * died without a word during a database outage, would otherwise hold back every later event of every
 * chat on this replica, and every turn waiting for its final events. Past this it counts as failed: the
 * other replicas' streams catch up from the database, as after any failed publish.
 */
const PUBLISH_TIMEOUT_MS = 10_000;

async function publishWithin(pubsub: Pubsub, payload: string, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the notification was not sent within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([pubsub.publish(CHAT_EVENTS_CHANNEL, payload), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
