import { InvalidInputError } from '../errors.js';
import { LLM_FAULT_MODES, type LlmFaultMode } from './llm-mock-faults.js';

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
  /** Words in every answer (a title request gets at most 5), one per streamed chunk and counted as one completion token each; default 16.
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
  /**
   * Share of chat completion requests (0..1) that fail on their own, rotating through `faultModes`;
   * default 0. Deterministic for a given `faultSeed` (see `createLlmFaultPlan`).
   */
  readonly faultRate?: number;
  /** The modes random faults rotate through; default all four. */
  readonly faultModes?: readonly LlmFaultMode[];
  /** Seed of the fault sequence; default 1. */
  readonly faultSeed?: number;
  /**
   * Count requests by the text of their last user message (`callsByLastUserMessage`, and the
   * `GET /_mock/stats` endpoint); default false (memory stays flat under long loads).
   */
  readonly recordLastUserMessages?: boolean;
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
  readonly faultRate: number;
  readonly faultModes: readonly LlmFaultMode[];
  readonly faultSeed: number;
  readonly recordLastUserMessages: boolean;
}

/** Applies defaults and validates; throws {@link InvalidInputError} with a readable message. */
export function resolveLlmMockOptions(options: LlmMockServerOptions = {}): ResolvedLlmMockOptions {
  const port = nonNegativeInteger('port', options.port, 0);
  if (port > 65535) throw new InvalidInputError(`port must be at most 65535, got ${port}`);
  const models = options.models ?? ['mock-model'];
  if (models.length === 0 || models.some((model) => typeof model !== 'string' || model === '')) {
    throw new InvalidInputError('models must be a non-empty list of model ids');
  }
  const faultRate = options.faultRate ?? 0;
  if (typeof faultRate !== 'number' || !(faultRate >= 0 && faultRate <= 1)) {
    throw new InvalidInputError(`faultRate must be within 0..1, got ${String(faultRate)}`);
  }
  const faultModes = options.faultModes ?? LLM_FAULT_MODES;
  if (faultModes.some((mode) => !LLM_FAULT_MODES.includes(mode))) {
    throw new InvalidInputError(`faultModes must be among ${LLM_FAULT_MODES.join(', ')}`);
  }
  if (faultRate > 0 && faultModes.length === 0) {
    throw new InvalidInputError('a faultRate above 0 needs at least one fault mode');
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
    faultRate,
    faultModes: Object.freeze([...faultModes]),
    faultSeed: nonNegativeInteger('faultSeed', options.faultSeed, 1),
    recordLastUserMessages: options.recordLastUserMessages === true,
  });
}

function nonNegativeInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}
