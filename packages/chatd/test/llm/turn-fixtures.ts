import type { JsonObject } from '../../src/db/rows.js';
import type { ChatTurnRequest, ProviderConnection } from '../../src/llm/index.js';

/** A turn request with sensible defaults, collecting the deltas it receives. */
export function turnRequest(
  provider: ProviderConnection,
  overrides: Partial<Omit<ChatTurnRequest, 'provider' | 'onTextDelta'>> & {
    onTextDelta?: (delta: string) => void;
  } = {},
): { request: ChatTurnRequest; deltas: string[]; controller: AbortController } {
  const deltas: string[] = [];
  const controller = new AbortController();
  const request: ChatTurnRequest = {
    provider,
    model: overrides.model ?? 'mock-model',
    options: overrides.options ?? ({} as JsonObject),
    system: overrides.system ?? '',
    messages: overrides.messages ?? [{ role: 'user', content: 'Hello?' }],
    signal: overrides.signal ?? controller.signal,
    onTextDelta(delta) {
      deltas.push(delta);
      overrides.onTextDelta?.(delta);
    },
  };
  return { request, deltas, controller };
}

/** Retry settings that keep tests fast: a few ms of backoff. */
export const FAST_RETRIES = Object.freeze({ retryBaseDelayMs: 5, retryMaxDelayMs: 20, retryAfterCapMs: 20 });

/** Awaits a promise expected to reject and returns the rejection (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
