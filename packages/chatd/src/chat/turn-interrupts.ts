import type { Pubsub } from '../pubsub/pubsub.js';

/** The channel interrupt requests travel on between replicas. */
export const CHAT_INTERRUPT_CHANNEL = 'chat:interrupt';

/**
 * How long a request for a turn that is not (yet) registered here is kept: the turn may have been claimed
 * before the request was made, but not have reached this replica's turn loop yet.
 */
const EARLY_REQUEST_TTL_MS = 60_000;
/** Early requests kept at most; the oldest go first. Interrupts are rare: this is a guard, not a budget. */
const MAX_EARLY_REQUESTS = 10_000;

/** An interrupt request on the wire: the chat, and the status version of the `running` turn it targets. */
interface InterruptRequest {
  c: string;
  v: number;
}

/**
 * Interrupt requests for running turns, wherever they run: a request is broadcast to every replica, and
 * the replica running that turn aborts it.
 *
 * A turn is identified by its chat and the status version of its `running` status (every status change
 * bumps the chat's `status_version`), so a request reaches exactly the turn the caller saw:
 * - a request that arrives before its turn registered (the claim committed, but this replica's worker
 *   has not started the turn yet) is kept for a while, and the turn is aborted as it registers;
 * - a request for an older turn never aborts a newer one of the same chat, and a turn that lost its claim
 *   and still runs is told apart from its successor.
 */
export class TurnInterrupts {
  /** Running turns by `chatId:version`. */
  readonly #running = new Map<string, AbortController>();
  /** Requests for turns not registered here, by `chatId:version` → when they expire. */
  readonly #early = new Map<string, number>();
  readonly #pubsub: Pubsub;
  readonly #now: () => number;
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(pubsub: Pubsub, options: { now?: () => number } = {}) {
    this.#pubsub = pubsub;
    this.#now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#pubsub.subscribe(CHAT_INTERRUPT_CHANNEL, (payload) => {
      const request = parseRequest(payload);
      if (request) this.#interrupt(request.c, request.v);
    });
  }

  async stop(): Promise<void> {
    await this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /**
   * Asks every replica (this one included) to abort the turn of `chatId` whose `running` status has
   * `runningVersion`.
   */
  async request(chatId: string, runningVersion: number): Promise<void> {
    this.#interrupt(chatId, runningVersion);
    await this.#pubsub.publish(
      CHAT_INTERRUPT_CHANNEL,
      JSON.stringify({ c: chatId, v: runningVersion } satisfies InterruptRequest),
    );
  }

  /**
   * Registers a running turn (its chat and the status version of its `running` status); the returned
   * signal aborts on interrupt, at once if the request came first. Call the release function after.
   */
  register(chatId: string, runningVersion: number): { signal: AbortSignal; release: () => void } {
    const key = turnKey(chatId, runningVersion);
    const controller = new AbortController();
    this.#running.set(key, controller);
    const early = this.#early.get(key);
    if (early !== undefined) {
      this.#early.delete(key);
      if (early > this.#now()) controller.abort(new Error('interrupted'));
    }
    return {
      signal: controller.signal,
      release: () => {
        if (this.#running.get(key) === controller) this.#running.delete(key);
      },
    };
  }

  #interrupt(chatId: string, runningVersion: number): void {
    const key = turnKey(chatId, runningVersion);
    const running = this.#running.get(key);
    if (running) {
      running.abort(new Error('interrupted'));
      return;
    }
    // Not running here (yet): another replica runs it, or it is about to start here.
    this.#early.delete(key);
    this.#early.set(key, this.#now() + EARLY_REQUEST_TTL_MS);
    this.#pruneEarly();
  }

  /** Drops expired early requests (oldest first, as inserted) and any beyond the bound. */
  #pruneEarly(): void {
    const now = this.#now();
    for (const [key, expiresAt] of this.#early) {
      if (expiresAt > now && this.#early.size <= MAX_EARLY_REQUESTS) break;
      this.#early.delete(key);
    }
  }
}

function turnKey(chatId: string, runningVersion: number): string {
  return `${chatId}:${runningVersion}`;
}

function parseRequest(payload: string): InterruptRequest | undefined {
  try {
    const request = JSON.parse(payload) as Partial<InterruptRequest> | null;
    if (typeof request?.c === 'string' && Number.isSafeInteger(request.v)) return request as InterruptRequest;
  } catch {
    // not ours
  }
  return undefined;
}
