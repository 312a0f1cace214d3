/**
 * The mock LLM's injected faults: which requests fail, and how. Deterministic: the decision for the n-th
 * request depends only on n, the rate and the seed, so a test that sends the same requests sees the same
 * faults (which chat gets them depends on arrival order, as with a real provider).
 */

/**
 * How a request fails:
 * - `http-500`: HTTP 500 before any output (chatd's provider call retries 5xx);
 * - `cut`: part of the answer is streamed, then the connection is destroyed (not retried: output started);
 * - `http-400`: HTTP 400 before any output (not retried);
 * - `silent`: headers and the first chunk, then nothing until the client gives up (chatd's idle timeout).
 */
export type LlmFaultMode = 'http-500' | 'cut' | 'http-400' | 'silent';

/** Every fault mode, in the order faults rotate through them. */
export const LLM_FAULT_MODES: readonly LlmFaultMode[] = Object.freeze([
  'http-500',
  'cut',
  'http-400',
  'silent',
]);

/** What happened to each request: answered normally, or one of the fault modes. */
export type LlmRequestOutcome = 'ok' | LlmFaultMode;

/** Decides, request by request, whether and how it fails. */
export interface LlmFaultPlan {
  /** The outcome of the next request. */
  next(): LlmRequestOutcome;
}

/**
 * A plan that fails a share `rate` (0..1) of requests: each request is a fault with probability `rate`
 * (a seeded pseudo-random sequence, so two faults in a row happen as they would by chance, retries
 * included), and successive faults rotate through `modes`, so that every mode is injected once there
 * have been `modes.length` faults.
 */
export function createLlmFaultPlan(
  rate: number,
  seed: number,
  modes: readonly LlmFaultMode[] = LLM_FAULT_MODES,
): LlmFaultPlan {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`the fault rate must be within 0..1, got ${rate}`);
  if (rate > 0 && modes.length === 0) throw new RangeError('a fault rate above 0 needs at least one mode');
  const random = mulberry32(seed);
  let faults = 0;
  return {
    next() {
      // Drawn even at rate 0, so that the sequence of draws does not depend on the rate.
      const draw = random();
      if (draw >= rate) return 'ok';
      return modes[faults++ % modes.length]!;
    },
  };
}

/** Parses a comma-separated list of fault modes (`all` for every mode). */
export function parseLlmFaultModes(value: string): LlmFaultMode[] {
  if (value.trim() === 'all') return [...LLM_FAULT_MODES];
  const modes = value
    .split(',')
    .map((mode) => mode.trim())
    .filter((mode) => mode !== '');
  for (const mode of modes) {
    if (!(LLM_FAULT_MODES as readonly string[]).includes(mode)) {
      throw new RangeError(`unknown fault mode '${mode}' (known: ${LLM_FAULT_MODES.join(', ')})`);
    }
  }
  return modes as LlmFaultMode[];
}

/** A small, fast, seeded PRNG returning [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The text of the last `user` message of a chat completion request's `messages` (string content, or
 * the text parts of an array content joined), or undefined when there is none.
 */
export function lastUserMessageText(messages: readonly unknown[]): string | undefined {
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index] as { role?: unknown; content?: unknown } | null;
    if (message?.role !== 'user') continue;
    const { content } = message;
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) {
      return content
        .map((part) => (part as { text?: unknown } | null)?.text)
        .filter((text): text is string => typeof text === 'string')
        .join('');
    }
    return '';
  }
  return undefined;
}
