import type { ChatdClient, MessageJson, StreamEvent } from './chatd-client.js';

/** What a follower has seen of a chat so far. */
export interface FollowedChat {
  /** The last status streamed. */
  status: string;
  /** Every message streamed, by id. */
  readonly messages: Map<number, MessageJson>;
  /** `last_error` of the last `status` event, when it carried one. */
  lastError: string | null;
  /** When (performance.now()) the last `message_part` arrived. */
  lastPartAt: number | undefined;
  /** The last `title` event's title (generated after the first answer, or a rename). */
  title: string | undefined;
}

/**
 * Follows one chat's event stream for as long as it is open (one connection across turns, as a client
 * would), keeping the latest status and every message, and lets callers wait for a condition on them.
 */
export class ChatFollower {
  readonly state: FollowedChat = {
    status: '',
    messages: new Map(),
    lastError: null,
    lastPartAt: undefined,
    title: undefined,
  };
  readonly #controller = new AbortController();
  readonly #waiters = new Set<{ check: () => void }>();
  readonly #onEvent: ((event: StreamEvent, state: FollowedChat) => void) | undefined;
  #failure: Error | undefined;
  /** Resolves when the stream ends (closed, failed or aborted). */
  readonly done: Promise<void>;

  private constructor(
    client: ChatdClient,
    chatId: string,
    onEvent: ((event: StreamEvent, state: FollowedChat) => void) | undefined,
    afterId: number | undefined,
    connected: () => void,
  ) {
    this.#onEvent = onEvent;
    this.done = this.#follow(client, chatId, afterId, connected);
  }

  /**
   * Opens the stream (after message `afterId` when given); resolves once the first event (the current
   * status) has arrived.
   */
  static async open(
    client: ChatdClient,
    chatId: string,
    onEvent?: (event: StreamEvent, state: FollowedChat) => void,
    options: { afterId?: number } = {},
  ): Promise<ChatFollower> {
    let follower!: ChatFollower;
    await new Promise<void>((resolve, reject) => {
      follower = new ChatFollower(client, chatId, onEvent, options.afterId, resolve);
      follower.done.then(() => reject(follower.#failure ?? new Error(`stream of ${chatId} ended at once`)));
    });
    return follower;
  }

  /** Waits until `condition` holds (checked after every event); rejects on timeout or if the stream ends. */
  until(condition: (state: FollowedChat) => boolean, timeoutMs: number): Promise<FollowedChat> {
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          if (this.#failure) finish(this.#failure);
          else if (condition(this.state)) finish();
        },
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out after ${timeoutMs} ms (status ${this.state.status})`)),
        timeoutMs,
      );
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        if (error) reject(error);
        else resolve(this.state);
      };
      this.#waiters.add(waiter);
      waiter.check();
    });
  }

  /** Closes the stream. */
  close(): void {
    this.#controller.abort();
  }

  async #follow(
    client: ChatdClient,
    chatId: string,
    afterId: number | undefined,
    connected: () => void,
  ): Promise<void> {
    try {
      const stream = client.stream(chatId, {
        signal: this.#controller.signal,
        ...(afterId === undefined ? {} : { afterId }),
      });
      for await (const event of stream) {
        if (event.event === 'status') {
          const data = event.data as { status: string; last_error?: string | null };
          this.state.status = data.status;
          if (data.last_error !== undefined) this.state.lastError = data.last_error;
        } else if (event.event === 'message') {
          const message = event.data as MessageJson;
          this.state.messages.set(message.id, message);
        } else if (event.event === 'message_part') {
          this.state.lastPartAt = performance.now();
        } else if (event.event === 'truncate') {
          // An edit or regenerate removed what followed: the stream re-sends what replaces it.
          const { after_id: afterId } = event.data as { after_id: number };
          for (const id of [...this.state.messages.keys()]) if (id > afterId) this.state.messages.delete(id);
        } else if (event.event === 'title') {
          this.state.title = (event.data as { title: string }).title;
        }
        this.#onEvent?.(event, this.state);
        connected();
        for (const waiter of [...this.#waiters]) waiter.check();
      }
      this.#failure = new Error(`the stream of chat ${chatId} ended`);
    } catch (error) {
      this.#failure = this.#controller.signal.aborted ? new Error('stream closed') : (error as Error);
    }
    for (const waiter of [...this.#waiters]) waiter.check();
  }
}
