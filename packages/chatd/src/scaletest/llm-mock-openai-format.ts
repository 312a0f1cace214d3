/**
 * OpenAI Chat Completions wire format, as the mock LLM server writes it: `chat.completion.chunk` SSE
 * events, the `chat.completion` object, usage and error bodies. Field order and nulls follow OpenAI's
 * own responses so that clients parse the mock exactly as they parse the real thing.
 */

/** Token counts in OpenAI's shape. */
export interface OpenAiUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details: { readonly cached_tokens: number; readonly audio_tokens: number };
  readonly completion_tokens_details: {
    readonly reasoning_tokens: number;
    readonly audio_tokens: number;
    readonly accepted_prediction_tokens: number;
    readonly rejected_prediction_tokens: number;
  };
}

/** What one answer consists of: its id, model, content chunks and token counts. */
export interface MockReply {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  /** Content deltas in order; their concatenation is the answer. */
  readonly chunks: readonly string[];
  readonly finishReason: 'stop' | 'length';
  readonly usage: OpenAiUsage;
}

const WORDS = [
  'Lorem',
  'ipsum',
  'dolor',
  'sit',
  'amet,',
  'consectetur',
  'adipiscing',
  'elit,',
  'sed',
  'do',
  'eiusmod',
  'tempor',
  'incididunt',
  'ut',
  'labore',
  'et',
  'dolore',
  'magna',
  'aliqua.',
] as const;

/** The content chunks of a `tokens`-word answer: words from a fixed list, each after a space but the first. */
export function mockReplyChunks(tokens: number): string[] {
  const chunks: string[] = [];
  for (let index = 0; index < tokens; index++) {
    const word = WORDS[index % WORDS.length]!;
    chunks.push(index === 0 ? word : ` ${word}`);
  }
  return chunks;
}

/** The text of a `tokens`-word answer (what a client assembles from the stream). */
export function mockReplyText(tokens: number): string {
  return mockReplyChunks(tokens).join('');
}

/** Builds a usage object; prompt tokens are estimated at four characters per token. */
export function mockUsage(promptCharacters: number, completionTokens: number): OpenAiUsage {
  const promptTokens = Math.ceil(promptCharacters / 4);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/**
 * The SSE events of a streamed answer, as separate strings so the server can pace them: a first chunk
 * with the role, one per content delta, one with the finish reason, one with usage (only when the
 * request asked for it with `stream_options.include_usage`, in which case every other chunk carries
 * `"usage": null`, as OpenAI does), then `[DONE]`. The JSON prefix is built once per answer.
 */
export function streamEvents(
  reply: MockReply,
  includeUsage: boolean,
): {
  readonly role: string;
  readonly content: readonly string[];
  readonly finish: string;
  readonly usage: string | null;
  readonly done: string;
} {
  const prefix = `data: {"id":${JSON.stringify(reply.id)},"object":"chat.completion.chunk","created":${
    reply.created
  },"model":${JSON.stringify(reply.model)},"system_fingerprint":"fp_mock","choices":[`;
  const suffix = includeUsage ? '],"usage":null}\n\n' : ']}\n\n';
  const choice = (delta: string, finishReason: string | null) =>
    `${prefix}{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${JSON.stringify(finishReason)}}${suffix}`;
  return {
    role: choice('{"role":"assistant","content":"","refusal":null}', null),
    content: reply.chunks.map((chunk) => choice(`{"content":${JSON.stringify(chunk)}}`, null)),
    finish: choice('{}', reply.finishReason),
    usage: includeUsage ? `${prefix}],"usage":${JSON.stringify(reply.usage)}}\n\n` : null,
    done: 'data: [DONE]\n\n',
  };
}

/** The non-streamed `chat.completion` object. */
export function completionObject(reply: MockReply): object {
  return {
    id: reply.id,
    object: 'chat.completion',
    created: reply.created,
    model: reply.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: reply.chunks.join(''), refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: reply.finishReason,
      },
    ],
    usage: reply.usage,
    system_fingerprint: 'fp_mock',
  };
}

/** An error body in OpenAI's shape. */
export function errorBody(message: string, type: string, code: string | null = null): object {
  return { error: { message, type, param: null, code } };
}

/** OpenAI's error `type` for a status. */
export function errorTypeForStatus(status: number): string {
  if (status === 401) return 'invalid_request_error';
  if (status === 429) return 'rate_limit_exceeded';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}
