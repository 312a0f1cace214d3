import { ChatdError } from '../errors.js';

/** Details a {@link ProviderError} carries besides its message. */
export interface ProviderErrorDetails {
  /** The HTTP status the provider answered with, when it answered at all. */
  readonly status?: number;
  /** Whether the same request could succeed later (429, 5xx, connection failures). */
  readonly retryable: boolean;
  /** How many provider calls the turn made before giving up (0: the model could not even be set up). */
  readonly attempts?: number;
  /** Text forwarded through `onTextDelta` before the failure ('' when none). */
  readonly partialText?: string;
  readonly cause?: unknown;
}

/**
 * A model provider failed: it could not be set up, reached, or it answered with an error. The message is
 * meant for the chat's `last_error` (for example "openai-compat returned HTTP 401: invalid api key") and
 * never contains the API key or an Authorization header.
 */
export class ProviderError extends ChatdError {
  /** The provider's HTTP status, when it answered. */
  readonly status: number | undefined;
  /** Whether a later attempt could succeed; true when retries ran out on a transient failure. */
  readonly retryable: boolean;
  /** Provider calls made (0 when the model could not be set up). */
  readonly attempts: number;
  /** Text already forwarded to the caller before the failure. */
  readonly partialText: string;

  constructor(message: string, details: ProviderErrorDetails) {
    super('E_PROVIDER', message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status;
    this.retryable = details.retryable;
    this.attempts = details.attempts ?? 0;
    this.partialText = details.partialText ?? '';
  }
}

/** The turn's `signal` aborted (an interrupt): the provider call was cancelled and not retried. */
export class TurnAbortedError extends ChatdError {
  /** Text already forwarded to the caller before the abort, so an interrupted answer can be kept. */
  readonly partialText: string;

  constructor(partialText: string, options?: ErrorOptions) {
    super('E_TURN_ABORTED', 'the turn was interrupted', options);
    this.partialText = partialText;
  }
}
