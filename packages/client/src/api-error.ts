/**
 * An answer of chatd's API that is not a success: the HTTP status and the API's error body
 * `{"error": {"code", "message"}}` as a value, so callers branch on `code` rather than on message text.
 */
export class ChatdApiError extends Error {
  /** The HTTP status (0 when no answer came: the request failed on the network). */
  readonly status: number;
  /** The API's error code (`E_NOT_FOUND`, `E_RATE_LIMITED`, …), or `E_NETWORK` / `E_UNEXPECTED_RESPONSE`. */
  readonly code: string;
  /** Seconds to wait before retrying, from `Retry-After` (429 and 503 answers), when given. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    options?: { retryAfterSeconds?: number; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChatdApiError';
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  /**
   * The error an answer stands for. `body` is the parsed JSON body when there was one; a body that is not
   * the API's error shape (a proxy's HTML page, say) becomes `E_UNEXPECTED_RESPONSE` with the status text.
   */
  static fromResponse(response: Response, body: unknown): ChatdApiError {
    const retryAfter = Number(response.headers.get('retry-after'));
    const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined;
    const detail = errorDetail(body);
    if (detail) return new ChatdApiError(response.status, detail.code, detail.message, { retryAfterSeconds });
    const message = `${response.status} ${response.statusText || 'unexpected response'}`.trim();
    return new ChatdApiError(response.status, 'E_UNEXPECTED_RESPONSE', message, { retryAfterSeconds });
  }
}

/** Whether `value` is a {@link ChatdApiError} (optionally with the given code). */
export function isChatdApiError(value: unknown, code?: string): value is ChatdApiError {
  return value instanceof ChatdApiError && (code === undefined || value.code === code);
}

function errorDetail(body: unknown): { code: string; message: string } | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const error = (body as { error: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== 'string') return undefined;
  return { code, message: typeof message === 'string' ? message : code };
}
