import { InvalidInputError } from '../errors.js';

/** Options of the mock LLM server. Durations in ms. */
export interface LlmMockServerOptions {
  /** Listen address; default 127.0.0.1 (loopback only). */
  readonly host?: string;
  /** Listen port; default 0 (a free one). */
  readonly port?: number;
  /** Time to first token: from the request to the first streamed chunk (or to the whole non-streamed answer). */
  readonly latencyMs?: number;
  /** Pause between streamed content chunks; default 0 (the answer goes out in one write). */
  readonly chunkDelayMs?: number;
  /** Words in every answer, one per streamed chunk and counted as one completion token each; default 16.
   *  A request's `max_completion_tokens` / `max_tokens` lowers it (finish_reason "length"). */
  readonly responseTokens?: number;
  /** When set, every request must carry `Authorization: Bearer <apiKey>`, else HTTP 401 as OpenAI answers it. */
  readonly apiKey?: string | null;
  /** Model ids listed by `GET /v1/models`; default ["mock-model"]. Completions accept any model. */
  readonly models?: readonly string[];
  /** How many recent requests are kept for assertions; default 20 (memory stays flat under load). */
  readonly recordLimit?: number;
  /** Largest accepted request body, in bytes; default 16 MiB. */
  readonly bodyLimit?: number;
}

/** {@link LlmMockServerOptions} with defaults applied; frozen. */
export interface ResolvedLlmMockOptions {
  readonly host: string;
  readonly port: number;
  readonly latencyMs: number;
  readonly chunkDelayMs: number;
  readonly responseTokens: number;
  readonly apiKey: string | null;
  readonly models: readonly string[];
  readonly recordLimit: number;
  readonly bodyLimit: number;
}

/** Applies defaults and validates; throws {@link InvalidInputError} with a readable message. */
export function resolveLlmMockOptions(options: LlmMockServerOptions = {}): ResolvedLlmMockOptions {
  const port = nonNegativeInteger('port', options.port, 0);
  if (port > 65535) throw new InvalidInputError(`port must be at most 65535, got ${port}`);
  const models = options.models ?? ['mock-model'];
  if (models.length === 0 || models.some((model) => typeof model !== 'string' || model === '')) {
    throw new InvalidInputError('models must be a non-empty list of model ids');
  }
  return Object.freeze({
    host: options.host ?? '127.0.0.1',
    port,
    latencyMs: nonNegativeInteger('latencyMs', options.latencyMs, 0),
    chunkDelayMs: nonNegativeInteger('chunkDelayMs', options.chunkDelayMs, 0),
    responseTokens: nonNegativeInteger('responseTokens', options.responseTokens, 16),
    apiKey: options.apiKey || null,
    models: Object.freeze([...models]),
    recordLimit: nonNegativeInteger('recordLimit', options.recordLimit, 20),
    bodyLimit: nonNegativeInteger('bodyLimit', options.bodyLimit, 16 * 1024 * 1024),
  });
}

function nonNegativeInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}
