import { performance } from 'node:perf_hooks';
import type { LanguageModelV3Usage, SharedV3Warning } from '@ai-sdk/provider';
import { linkAbort } from './linked-abort.js';
import { ProviderError, TurnAbortedError } from './llm-errors.js';
import { callOptionsOf, type ModelCallRequest, type PreparedCall, prepareCall } from './prepared-call.js';
import { describeProviderFailure, failureContextOf, type ProviderFailure } from './provider-failure.js';
import { type RetryPolicyOptions, resolveRetryPolicy, retryDelayMs, waitForRetry } from './retry-policy.js';

/** One model call for a chat: who to ask, what to send, where the streamed text goes. */
export interface ChatTurnRequest extends ModelCallRequest {
  /** Aborting it (an interrupt) cancels the provider call; the turn rejects with {@link TurnAbortedError}. */
  readonly signal: AbortSignal;
  /**
   * Receives each non-empty text delta, in order, as it arrives. If it throws, the provider call is
   * cancelled and the turn rejects with that same error.
   */
  onTextDelta(delta: string): void;
  /**
   * Receives what the provider warned about the call (a setting it does not support, such as `top_k` on
   * an OpenAI-compatible server, which it then ignores). Errors it throws are ignored.
   */
  onWarning?(warning: SharedV3Warning): void;
}

/** A completed turn. */
export interface ChatTurnResult {
  /** The whole answer: exactly the concatenation of the deltas forwarded. */
  readonly text: string;
  /** Token usage as the provider reported it; null where it reported none. */
  readonly usage: { readonly inputTokens: number | null; readonly outputTokens: number | null };
  /** From the start of the turn (retries included) to the first forwarded delta; null if none was. */
  readonly timeToFirstTokenMs: number | null;
  /** `length` when the provider stopped at the output limit; `stop` for every other normal end. */
  readonly finishReason: 'stop' | 'length';
}

/** Options for {@link runChatTurn}: the retry policy, the idle timeout, and a jitter source for tests. */
export interface TurnOptions extends RetryPolicyOptions {
  /** Random numbers in [0, 1) for backoff jitter; default `Math.random`. */
  readonly random?: () => number;
  /**
   * A provider call that sends nothing for this long (no response head, or no part of the stream) is cut
   * off, and the turn fails without a retry: a provider that hangs once is likely to hang again, and every
   * retry would hold the chat for this long. Default 120,000 ms.
   */
  readonly idleTimeoutMs?: number;
}

/** The default of {@link TurnOptions.idleTimeoutMs}. */
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

/**
 * Runs one chat turn on the AI SDK provider's language model (`doStream` of its LanguageModelV3),
 * forwarding text deltas as they arrive.
 *
 * Why not `streamText`: chatd needs the text deltas and the usage of one call, nothing of what
 * `streamText` adds on top of the provider (tools, multi-step calls, telemetry, several consumers of one
 * result through stream tees). Those layers cost CPU on every chunk: measured against the mock LLM with
 * the same provider, a turn took 8.5–10 ms of CPU through `streamText` and 4.2–5.7 ms through `doStream`.
 * The provider still does the wire format, validation and errors (`APICallError`), exactly as before.
 *
 * Retries (429, 5xx, connection failures; exponential backoff with jitter, honouring Retry-After up to
 * a cap) happen only here, and only while nothing has been forwarded:
 * once the caller has seen text, a retry would repeat it, so a failure then is final.
 *
 * Never throws synchronously. Rejects with {@link TurnAbortedError} when `signal` aborts before the turn
 * settles (even if the answer was complete by then), with {@link ProviderError} for any provider
 * failure (including an unusable provider configuration), or with whatever `onTextDelta` threw.
 */
export async function runChatTurn(
  request: ChatTurnRequest,
  options: TurnOptions = {},
): Promise<ChatTurnResult> {
  const startedAt = performance.now();
  const policy = resolveRetryPolicy(options);
  const random = options.random ?? Math.random;
  const output = new ForwardedText(request.onTextDelta, startedAt);
  const abortedError = () => new TurnAbortedError(output.text, { cause: request.signal.reason });
  if (request.signal.aborted) throw abortedError();

  const call = prepareCall(request);
  const failureContext = failureContextOf(request.provider);

  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  for (let attempt = 1; ; attempt++) {
    const outcome = await streamAttempt(call, request.signal, output, request.onWarning, idleTimeoutMs);
    // The abort is checked first: whatever the attempt ended with (an abort error, a network error
    // caused by the cancelled request, even a complete answer), the caller asked to stop.
    if (request.signal.aborted) throw abortedError();
    if (outcome.kind === 'finished') {
      return {
        text: output.text,
        usage: {
          inputTokens: outcome.usage.inputTokens.total ?? null,
          outputTokens: outcome.usage.outputTokens.total ?? null,
        },
        timeToFirstTokenMs: output.timeToFirstTokenMs,
        finishReason: outcome.finishReason,
      };
    }
    if (outcome.kind === 'consumer-failed') throw outcome.error;
    if (outcome.kind === 'idle') {
      throw new ProviderError(
        `${request.provider.kind} sent no data for ${formatSeconds(idleTimeoutMs)} (the idle timeout), so the call was cut off`,
        { retryable: false, attempts: attempt, partialText: output.text },
      );
    }

    const failure = describeProviderFailure(outcome.error, failureContext);
    const outputStarted = output.text !== '';
    if (outputStarted || !failure.retryable || attempt > policy.maxRetries) {
      throw new ProviderError(finalMessage(failure, attempt, outputStarted), {
        status: failure.status,
        retryable: failure.retryable,
        attempts: attempt,
        partialText: output.text,
      });
    }
    await waitForRetry(retryDelayMs(policy, attempt, failure.retryAfterMs, random), request.signal);
    if (request.signal.aborted) throw abortedError();
  }
}

type AttemptOutcome =
  | {
      readonly kind: 'finished';
      readonly usage: LanguageModelV3Usage;
      readonly finishReason: 'stop' | 'length';
    }
  /** Nothing arrived for the idle timeout. */
  | { readonly kind: 'idle' }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'consumer-failed'; readonly error: unknown };

/** One provider call. Never rejects: every way it can end is an {@link AttemptOutcome}. */
async function streamAttempt(
  call: PreparedCall,
  turnSignal: AbortSignal,
  output: ForwardedText,
  onWarning: ((warning: SharedV3Warning) => void) | undefined,
  idleTimeoutMs: number,
): Promise<AttemptOutcome> {
  // A controller per attempt, linked to the turn's signal, so that a failed attempt can be cancelled on
  // its own while the turn goes on to retry. Every wait below also ends as soon as the attempt is aborted
  // (an interrupt, a lost claim, the idle timer), even when a provider does not pass the abort on to its
  // request or stream: the request is raced against the abort, and cancelling the reader ends a pending
  // read (it resolves as done).
  let reader: ReadableStreamDefaultReader<unknown> | undefined;
  const {
    controller: attempt,
    abandoned,
    unlink,
  } = linkAbort(turnSignal, () => {
    reader?.cancel().catch(() => {});
  });
  let completed = false;
  let usage: LanguageModelV3Usage | undefined;
  let finishReason: 'stop' | 'length' = 'stop';
  // The idle timer runs from the request to the response head, and between any two parts after it
  // (refreshed per part): a provider that is merely slow keeps sending, one that hangs is cut off.
  let idle = false;
  const idleTimer = setTimeout(() => {
    idle = true;
    attempt.abort(new Error('idle timeout'));
  }, idleTimeoutMs);
  // Silence after the `finish` part (a connection kept open) does not fail a complete answer.
  const idleOutcome = (): AttemptOutcome =>
    usage ? { kind: 'finished', usage, finishReason } : { kind: 'idle' };
  try {
    // An HTTP error (429, 5xx, 401...) rejects here, before any part; a failure mid-answer arrives as an
    // `error` part or rejects a read.
    const { stream } = await Promise.race([
      call.model.doStream({
        prompt: call.prompt,
        ...callOptionsOf(call.settings),
        abortSignal: attempt.signal,
      }),
      abandoned,
    ]);
    const partReader = stream.getReader();
    reader = partReader;
    // Aborted while the response head was on its way: the listener above found no reader to cancel.
    if (attempt.signal.aborted) throw attempt.signal.reason;
    for (;;) {
      idleTimer.refresh();
      const { done, value: part } = await partReader.read();
      if (done) break;
      if (part.type === 'text-delta') {
        if (part.delta !== '' && !output.forward(part.delta)) {
          return { kind: 'consumer-failed', error: output.consumerError };
        }
      } else if (part.type === 'stream-start') {
        for (const warning of part.warnings) {
          try {
            onWarning?.(warning);
          } catch {
            // A warning is advice: the turn goes on.
          }
        }
      } else if (part.type === 'finish') {
        usage = part.usage;
        if (part.finishReason.unified === 'length') finishReason = 'length';
      } else if (part.type === 'error') {
        return { kind: 'failed', error: part.error };
      }
    }
    if (attempt.signal.aborted) throw attempt.signal.reason;
    if (!usage) return { kind: 'failed', error: new Error('the response stream ended without finishing') };
    completed = true;
    return { kind: 'finished', usage, finishReason };
  } catch (error) {
    if (idle) {
      const outcome = idleOutcome();
      completed = outcome.kind === 'finished';
      return outcome;
    }
    // The request failed (HTTP error, connection refused, aborted), or a read did mid-answer.
    return { kind: 'failed', error };
  } finally {
    clearTimeout(idleTimer);
    unlink();
    if (!completed) {
      // Stop the HTTP response (a provider may tee or buffer its stream, so cancelling our reader alone
      // is not sure to); the cancel is not awaited, as a teed branch's cancel settles only once every
      // branch is cancelled.
      attempt.abort();
      reader?.cancel().catch(() => {});
    }
  }
}

/** The text forwarded to the caller so far, and when the first of it went out. */
class ForwardedText {
  text = '';
  timeToFirstTokenMs: number | null = null;
  consumerError: unknown;

  constructor(
    private readonly onTextDelta: (delta: string) => void,
    private readonly startedAt: number,
  ) {}

  /** Hands a delta to the caller; false (with {@link consumerError} set) when the caller threw. */
  forward(delta: string): boolean {
    this.timeToFirstTokenMs ??= performance.now() - this.startedAt;
    this.text += delta;
    try {
      this.onTextDelta(delta);
      return true;
    } catch (error) {
      this.consumerError = error;
      return false;
    }
  }
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function finalMessage(failure: ProviderFailure, attempts: number, outputStarted: boolean): string {
  if (outputStarted) return `${failure.message} (the answer had already started, so it was not retried)`;
  if (failure.retryable && attempts > 1) return `${failure.message} (gave up after ${attempts} attempts)`;
  return failure.message;
}
