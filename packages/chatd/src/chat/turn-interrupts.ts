import type { Pubsub } from '../pubsub/pubsub.js';

/** The channel interrupt requests travel on between replicas. */
export const CHAT_INTERRUPT_CHANNEL = 'chat:interrupt';

/**
 * Interrupt requests for running turns, wherever they run: a request is broadcast to every replica, and
 * the replica running that chat's turn aborts it. Turns register an AbortController while they run.
 */
export class TurnInterrupts {
  readonly #running = new Map<string, AbortController>();
  readonly #pubsub: Pubsub;
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(pubsub: Pubsub) {
    this.#pubsub = pubsub;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#pubsub.subscribe(CHAT_INTERRUPT_CHANNEL, (chatId) =>
      this.#abortLocal(chatId),
    );
  }

  async stop(): Promise<void> {
    await this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Asks every replica (this one included, through pubsub) to abort the chat's running turn. */
  async request(chatId: string): Promise<void> {
    this.#abortLocal(chatId);
    await this.#pubsub.publish(CHAT_INTERRUPT_CHANNEL, chatId);
  }

  /** Registers a running turn; the returned signal aborts on interrupt. Call the release function after. */
  register(chatId: string): { signal: AbortSignal; release: () => void } {
    const controller = new AbortController();
    this.#running.set(chatId, controller);
    return {
      signal: controller.signal,
      release: () => {
        if (this.#running.get(chatId) === controller) this.#running.delete(chatId);
      },
    };
  }

  #abortLocal(chatId: string): void {
    this.#running.get(chatId)?.abort(new Error('interrupted'));
  }
}
