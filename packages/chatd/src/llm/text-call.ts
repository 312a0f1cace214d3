import { linkAbort } from './linked-abort.js';
import { ProviderError, TurnAbortedError } from './llm-errors.js';
import { callOptionsOf, type ModelCallRequest, prepareCall } from './prepared-call.js';
import { describeProviderFailure, failureContextOf } from './provider-failure.js';

/** One model call whose answer nobody watches arrive (a chat's title): asked for whole, not streamed. */
export interface TextCallRequest extends ModelCallRequest {
  /** Aborting it cancels the call; it then rejects with {@link TurnAbortedError}. */
  readonly signal: AbortSignal;
}

/** What a {@link runTextCall} answered. */
export interface TextCallResult {
  /** The text parts of the answer, joined (reasoning and other parts left out). */
  readonly text: string;
}

/** Options of {@link runTextCall}. */
export interface TextCallOptions {
  /** The whole call, from the request to the last byte of its answer, may take this long; default 60 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_TEXT_CALL_TIMEOUT_MS = 60_000;

/**
 * Asks the model for a short answer in one non-streamed call (the provider's `doGenerate`), once: no
 * retries, as nothing depends on it that cannot do without.
 *
 * Why not a streamed turn (`runChatTurn` with its deltas dropped): a streamed answer costs CPU on
 * every chunk (the fetch body, the event-stream parser, a validation per chunk), all for text that is
 * used only whole. One JSON answer is parsed and validated once.
 *
 * Never throws synchronously. Rejects with {@link TurnAbortedError} when `signal` aborts first, and with
 * {@link ProviderError} for any failure, the timeout included (its message says which, never the key).
 */
export async function runTextCall(
  request: TextCallRequest,
  options: TextCallOptions = {},
): Promise<TextCallResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TEXT_CALL_TIMEOUT_MS;
  const { signal } = request;
  if (signal.aborted) throw new TurnAbortedError('', { cause: signal.reason });
  const call = prepareCall(request);
  const timedOut = new Error('timed out');
  // Raced against the abort as well: a provider that does not pass the signal on to its request still
  // settles this call at once.
  const { controller, abandoned, unlink } = linkAbort(signal);
  const timer = setTimeout(() => controller.abort(timedOut), timeoutMs);
  try {
    const result = await Promise.race([
      call.model.doGenerate({
        prompt: call.prompt,
        ...callOptionsOf(call.settings),
        abortSignal: controller.signal,
      }),
      abandoned,
    ]);
    let text = '';
    for (const part of result.content) if (part.type === 'text') text += part.text;
    return { text };
  } catch (error) {
    if (signal.aborted) throw new TurnAbortedError('', { cause: signal.reason });
    if (controller.signal.reason === timedOut) {
      throw new ProviderError(
        `${request.provider.kind} did not answer within ${timeoutMs / 1000} s, so the call was cut off`,
        { retryable: false, attempts: 1 },
      );
    }
    const failure = describeProviderFailure(error, failureContextOf(request.provider));
    throw new ProviderError(failure.message, {
      status: failure.status,
      retryable: failure.retryable,
      attempts: 1,
    });
  } finally {
    clearTimeout(timer);
    unlink();
  }
}
