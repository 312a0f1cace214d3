import { APICallError } from '@ai-sdk/provider';
import type { ProviderKind } from '../db/rows.js';
import type { ProviderConnection } from './language-model-factory.js';
import { ProviderAddressRefusedError } from './provider-address-policy.js';
import { parseRetryAfterMs } from './retry-policy.js';

/** What a failed provider call means for the turn. */
export interface ProviderFailure {
  /** Readable, secret-free, e.g. "openai-compat returned HTTP 401: invalid api key". */
  readonly message: string;
  /** The provider's HTTP status, when it answered. */
  readonly status: number | undefined;
  /** 429, 5xx and connection failures: the same request may succeed later. */
  readonly retryable: boolean;
  /** The delay the provider asked for (Retry-After), uncapped; undefined when it did not ask. */
  readonly retryAfterMs: number | undefined;
}

/** What {@link describeProviderFailure} needs besides the error. */
export interface ProviderFailureContext {
  readonly providerKind: ProviderKind;
  /** Values that must never appear in a message (the API key); replaced by "[redacted]". */
  readonly secrets: readonly string[];
}

/** The context for describing a call to `provider`'s failures: its kind, and its key as the secret to redact. */
export function failureContextOf(provider: ProviderConnection): ProviderFailureContext {
  return { providerKind: provider.kind, secrets: provider.apiKey ? [provider.apiKey] : [] };
}

/** Node/undici error codes of a connection that failed or broke; mirrors the AI SDK's own list. */
const CONNECTION_ERROR_CODES: ReadonlySet<string> = new Set([
  'ConnectionRefused',
  'ConnectionClosed',
  'FailedToOpenSocket',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const MAX_MESSAGE_LENGTH = 500;

/**
 * Classifies anything a provider call failed with (an `APICallError`, a network error thrown while
 * reading the stream, an `error` part's payload) into a readable message, an HTTP status and whether
 * retrying could help. The caller handles aborts before calling this.
 */
export function describeProviderFailure(failure: unknown, context: ProviderFailureContext): ProviderFailure {
  const kind = context.providerKind;
  const clean = (text: string) => redact(text, context.secrets);

  // An error status first: the provider answered and said why.
  if (APICallError.isInstance(failure) && failure.statusCode !== undefined && failure.statusCode >= 400) {
    const status = failure.statusCode;
    const detail = failure.message.trim();
    return {
      message: clean(`${kind} returned HTTP ${status}${detail ? `: ${detail}` : ''}`),
      status,
      retryable: status === 429 || status >= 500,
      retryAfterMs: parseRetryAfterMs(failure.responseHeaders),
    };
  }

  // A connection chatd itself refused (a link-local or metadata address): it would be refused again.
  const refused = findCause(failure, (error) => error instanceof ProviderAddressRefusedError);
  if (refused) {
    return {
      message: clean(`${kind} connection refused: ${refused.message}`),
      status: undefined,
      retryable: false,
      retryAfterMs: undefined,
    };
  }

  // Then a broken connection, before the request was answered or while the answer streamed (the SDK
  // reports the latter as an APICallError with status 200 "Failed to process successful response").
  const connectionError = findConnectionError(failure);
  if (
    connectionError ||
    (APICallError.isInstance(failure) && failure.statusCode === undefined && failure.isRetryable)
  ) {
    return {
      message: clean(`${kind} connection failed: ${messageOf(connectionError ?? failure)}`),
      status: undefined,
      retryable: true,
      retryAfterMs: undefined,
    };
  }

  const what = failure instanceof Error ? 'request failed' : 'stream reported an error';
  return {
    message: clean(`${kind} ${what}: ${messageOf(failure)}`),
    status: undefined,
    retryable: false,
    retryAfterMs: undefined,
  };
}

/** The first error in the `cause` chain whose code says the connection failed or broke. */
export function findConnectionError(error: unknown): Error | undefined {
  return findCause(error, (current) => {
    const code = (current as { code?: unknown }).code;
    return typeof code === 'string' && CONNECTION_ERROR_CODES.has(code);
  });
}

/** The first error of `error`'s `cause` chain (itself included) that `matches`. */
function findCause(error: unknown, matches: (error: Error) => boolean): Error | undefined {
  const seen = new Set<unknown>();
  let current = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    if (matches(current)) return current;
    current = current.cause;
  }
  return undefined;
}

/** A message for any thrown value, including the plain `{ message }` objects providers stream as errors. */
function messageOf(value: unknown): string {
  if (APICallError.isInstance(value) && value.cause !== undefined) {
    // The SDK's own messages ("Failed to process successful response") say little without their cause.
    const cause = messageOf(value.cause);
    return value.message.includes(cause) ? value.message : `${value.message} (${cause})`;
  }
  if (value instanceof Error) return value.message || value.name;
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string') {
    return (value as { message: string }).message;
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Removes secrets and bearer tokens, and bounds the length (messages end up in `last_error`). */
function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret) result = result.split(secret).join('[redacted]');
  }
  result = result.replace(/\bBearer\s+[^\s"',;]+/gi, 'Bearer [redacted]');
  return result.length > MAX_MESSAGE_LENGTH ? `${result.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : result;
}
