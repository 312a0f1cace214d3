import type { PubsubErrorContext } from '../../src/pubsub/index.js';

/**
 * Polls `condition` every `intervalMs` until it holds; throws with `message` after `timeoutMs`. The only
 * kind of waiting these tests do: no fixed sleeps.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  message: string,
  { timeoutMs = 5_000, intervalMs = 5 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A handler that records the payloads it receives. */
export function recorder(): { readonly payloads: string[]; readonly handler: (payload: string) => void } {
  const payloads: string[] = [];
  return { payloads, handler: (payload) => payloads.push(payload) };
}

/** An `onError` option that records what it is given. */
export function errorRecorder(): {
  readonly errors: { error: unknown; context: PubsubErrorContext }[];
  readonly onError: (error: unknown, context: PubsubErrorContext) => void;
} {
  const errors: { error: unknown; context: PubsubErrorContext }[] = [];
  return { errors, onError: (error, context) => errors.push({ error, context }) };
}

/** Whether `promise` has settled, checked after pending callbacks have run. */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

/** A string of exactly `bytes` UTF-8 bytes made of 2-byte characters ('é'), plus one 'a' if odd. */
export function utf8Payload(bytes: number): string {
  const text = 'é'.repeat(Math.floor(bytes / 2)) + (bytes % 2 === 1 ? 'a' : '');
  if (Buffer.byteLength(text) !== bytes) throw new Error('utf8Payload is wrong');
  return text;
}
