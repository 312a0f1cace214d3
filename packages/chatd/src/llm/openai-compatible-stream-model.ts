import { StringDecoder } from 'node:string_decoder';
import { VERSION as OPENAI_COMPATIBLE_VERSION } from '@ai-sdk/openai-compatible';
import {
  convertOpenAICompatibleChatUsage,
  convertToOpenAICompatibleChatMessages,
  getResponseMetadata,
  mapOpenAICompatibleFinishReason,
} from '@ai-sdk/openai-compatible/internal';
import {
  APICallError,
  EmptyResponseBodyError,
  InvalidResponseDataError,
  JSONParseError,
  type LanguageModelV3,
  type LanguageModelV3CallOptions,
  type LanguageModelV3FinishReason,
  type LanguageModelV3StreamPart,
  type LanguageModelV3StreamResult,
  type SharedV3Warning,
  TypeValidationError,
} from '@ai-sdk/provider';
import {
  createJsonErrorResponseHandler,
  extractResponseHeaders,
  type FetchFunction,
  isAbortError,
  postJsonToApi,
  type ResponseHandler,
  secureJsonParse,
  withoutTrailingSlash,
  withUserAgentSuffix,
} from '@ai-sdk/provider-utils';
import { createParser } from 'eventsource-parser';
import { z } from 'zod';
import { findConnectionError } from './provider-failure.js';

/** What {@link createStreamReadingModel} needs: the provider's connection and the SDK's own model for it. */
export interface StreamReadingModelSettings {
  /** The AI SDK's model for the same connection and model id (`createOpenAICompatible(…).chatModel(id)`). */
  readonly sdkModel: LanguageModelV3;
  readonly baseURL: string;
  readonly apiKey: string | undefined;
  readonly fetch: FetchFunction;
}

/**
 * The `openai-compat` provider's chat model: the AI SDK's `@ai-sdk/openai-compatible` model, except that
 * a streamed plain-text call (what every chat turn is) reads its event stream in one transform instead of
 * the SDK's chain of web streams.
 *
 * Why: the SDK pipes the response body through a `TextDecoderStream`, an `EventSourceParserStream`, a
 * transform that parses and validates each event with an asynchronous zod parse, and its own transform,
 * each a WHATWG stream with promises per chunk. Measured in the scale test (`scaletest run --replicas 2
 * --chats 1000 --turns 5`, same session), that path was more than half of a replica's CPU per turn: 7.3 ms
 * per turn against 3.3 ms for the same load on the builtin `echo` model, which makes no HTTP call. See
 * the README's "Replica CPU per turn" for what this reader saves.
 *
 * What stays the SDK's: the request (sent by its `postJsonToApi`, with its headers and its handling of
 * network errors and aborts), the error response (its JSON error handler and `APICallError`, so retries
 * and messages are the same), the message conversion, the usage conversion, the finish-reason mapping and
 * the response metadata (its exported helpers). What this reader does itself, to the SDK's rules: split
 * the event stream (`eventsource-parser`, the parser the SDK uses), parse each event (`secureJsonParse`,
 * as the SDK does), check it against the same chunk shape with a synchronous zod parse, and emit the same
 * stream parts, in the same order (a test compares both models part by part over the same answers).
 *
 * Every other call goes to the SDK model whole: `doGenerate` (titles, summaries), and any stream with
 * tools, a response format, provider options, extra headers or raw chunks, none of which chatd sends
 * today. Tool-call deltas in an answer to a call without tools are ignored (the SDK would emit tool-call
 * parts that a chat turn ignores too).
 */
export function createStreamReadingModel(settings: StreamReadingModelSettings): LanguageModelV3 {
  return new StreamReadingModel(settings);
}

class StreamReadingModel implements LanguageModelV3 {
  readonly specificationVersion = 'v3';
  readonly provider: string;
  readonly modelId: string;
  readonly supportedUrls: LanguageModelV3['supportedUrls'];
  readonly #settings: StreamReadingModelSettings;
  readonly #url: string;
  /** The key of the finish part's provider metadata: the SDK's `providerOptionsName` (`<name>.chat` → `<name>`). */
  readonly #providerName: string;
  readonly #headers: Record<string, string | undefined>;

  constructor(settings: StreamReadingModelSettings) {
    this.#settings = settings;
    this.provider = settings.sdkModel.provider;
    this.modelId = settings.sdkModel.modelId;
    this.supportedUrls = settings.sdkModel.supportedUrls;
    this.#providerName = settings.sdkModel.provider.split('.')[0]!.trim();
    this.#url = new URL(`${withoutTrailingSlash(settings.baseURL)}/chat/completions`).toString();
    this.#headers = withUserAgentSuffix(
      settings.apiKey ? { Authorization: `Bearer ${settings.apiKey}` } : {},
      `ai-sdk/openai-compatible/${OPENAI_COMPATIBLE_VERSION}`,
    );
  }

  doGenerate(options: LanguageModelV3CallOptions) {
    return this.#settings.sdkModel.doGenerate(options);
  }

  async doStream(options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
    if (!isPlainTextCall(options)) return this.#settings.sdkModel.doStream(options);
    const warnings: SharedV3Warning[] = [];
    if (options.topK != null) warnings.push({ type: 'unsupported', feature: 'topK' });
    // The SDK's body for such a call, key for key (undefined settings are left out by JSON.stringify).
    const body = {
      model: this.modelId,
      max_tokens: options.maxOutputTokens,
      temperature: options.temperature,
      top_p: options.topP,
      frequency_penalty: options.frequencyPenalty,
      presence_penalty: options.presencePenalty,
      stop: options.stopSequences,
      seed: options.seed,
      messages: convertToOpenAICompatibleChatMessages(options.prompt),
      stream: true,
      // As the SDK sends it with `includeUsage`, which chatd always sets (streamed answers report usage).
      stream_options: { include_usage: true },
    };
    const { responseHeaders, value: response } = await postJsonToApi({
      url: this.#url,
      headers: this.#headers,
      body,
      failedResponseHandler,
      successfulResponseHandler: eventStreamBody,
      abortSignal: options.abortSignal,
      fetch: this.#settings.fetch,
    });
    const call: CallContext = {
      url: this.#url,
      requestBodyValues: body,
      statusCode: response.status,
      responseHeaders,
    };
    return {
      stream: streamParts(response.body, warnings, this.#providerName, call),
      request: { body },
      response: { headers: responseHeaders },
    };
  }
}

/** A call this reader serves: text in, text out, nothing provider-specific. */
function isPlainTextCall(options: LanguageModelV3CallOptions): boolean {
  return (
    (options.tools === undefined || options.tools.length === 0) &&
    options.toolChoice === undefined &&
    (options.responseFormat === undefined || options.responseFormat.type === 'text') &&
    (options.providerOptions === undefined || Object.keys(options.providerOptions).length === 0) &&
    (options.headers === undefined || Object.keys(options.headers).length === 0) &&
    options.includeRawChunks !== true
  );
}

/**
 * The SDK's error body of an OpenAI-compatible server (`openaiCompatibleErrorDataSchema`): of an error
 * response, and of an error sent in the stream.
 */
const errorSchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string().nullish(),
    param: z.any().nullish(),
    code: z.union([z.string(), z.number()]).nullish(),
  }),
});

/** The SDK's handler of an error response (`defaultOpenAICompatibleErrorStructure`). */
const failedResponseHandler = createJsonErrorResponseHandler({
  errorSchema,
  errorToMessage: (data) => data.error.message,
});

/** What an error of a call names, as the SDK's errors do. */
interface CallContext {
  readonly url: string;
  readonly requestBodyValues: unknown;
  readonly statusCode: number;
  readonly responseHeaders: Record<string, string> | undefined;
}

/**
 * A failed read of the body as the SDK reports it (its `wrapResponseBodyStream`): an abort as it is,
 * anything else as an `APICallError` "Failed to process successful response", retryable when a network
 * error caused it.
 */
function readFailure(error: unknown, call: CallContext): unknown {
  if (isAbortError(error)) return error;
  return new APICallError({
    message: 'Failed to process successful response',
    cause: error,
    statusCode: call.statusCode,
    url: call.url,
    responseHeaders: call.responseHeaders,
    requestBodyValues: call.requestBodyValues,
    isRetryable: findConnectionError(error) !== undefined,
  });
}

/** The response body, unread; the SDK's event-stream handler would pipe it through its transforms here. */
const eventStreamBody: ResponseHandler<{ body: ReadableStream<Uint8Array>; status: number }> = async ({
  response,
}) => {
  if (response.body === null) throw new EmptyResponseBodyError({});
  return {
    responseHeaders: extractResponseHeaders(response),
    value: { body: response.body, status: response.status },
  };
};

/** The SDK's streamed chunk (`chunkBaseSchema`), or an error sent in the stream. */
const contentSchema = z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]).nullish();
const chunkSchema = z.union([
  z.looseObject({
    id: z.string().nullish(),
    created: z.number().nullish(),
    model: z.string().nullish(),
    choices: z.array(
      z.object({
        delta: z
          .object({
            role: z.enum(['assistant', '']).nullish(),
            content: contentSchema,
            refusal: z.unknown().nullish(),
            reasoning_content: z.string().nullish(),
            reasoning: z.string().nullish(),
            // Checked as the SDK checks them, though a call without tools ignores them.
            tool_calls: z
              .array(
                z.object({
                  index: z.number().nullish(),
                  id: z.string().nullish(),
                  function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }),
                  extra_content: z
                    .object({ google: z.object({ thought_signature: z.string().nullish() }).nullish() })
                    .nullish(),
                }),
              )
              .nullish(),
          })
          .nullish(),
        finish_reason: z.string().nullish(),
      }),
    ),
    usage: z
      .looseObject({
        prompt_tokens: z.number().nullish(),
        completion_tokens: z.number().nullish(),
        total_tokens: z.number().nullish(),
        prompt_tokens_details: z.looseObject({ cached_tokens: z.number().nullish() }).nullish(),
        completion_tokens_details: z
          .looseObject({
            reasoning_tokens: z.number().nullish(),
            accepted_prediction_tokens: z.number().nullish(),
            rejected_prediction_tokens: z.number().nullish(),
          })
          .nullish(),
      })
      .nullish(),
  }),
  errorSchema,
]);
type Chunk = z.infer<typeof chunkSchema>;
type Usage = Extract<Chunk, { choices: unknown }>['usage'];

/**
 * The stream parts of an event-stream body, as the SDK's `doStream` emits them for a call without tools:
 * `stream-start`, `response-metadata` (from the first chunk), text and reasoning blocks, an `error` part
 * per bad or error event (reading goes on, as in the SDK), and `finish` at the end. Read on demand: the
 * body is read only as fast as the parts are; cancelling the parts cancels the body.
 */
function streamParts(
  body: ReadableStream<Uint8Array>,
  warnings: SharedV3Warning[],
  providerName: string,
  call: CallContext,
): ReadableStream<LanguageModelV3StreamPart> {
  const reader = body.getReader();
  // Node's decoder: keeps a character split between chunks for the next, and costs less per chunk than
  // a streaming TextDecoder.
  const decoder = new StringDecoder('utf8');
  const state = new AnswerState(providerName);
  let out: ReadableStreamDefaultController<LanguageModelV3StreamPart>;
  // Parts made so far: a pull returns once its reads made one (an enqueue into a waiting read does not
  // change the queue's desired size, so that cannot tell).
  let made = 0;
  const emit = (part: LanguageModelV3StreamPart) => {
    made++;
    out.enqueue(part);
  };
  const parser = createParser({
    onEvent: ({ data }) => {
      if (data !== '[DONE]') state.chunk(data, emit);
    },
  });
  // The SDK's `TextDecoderStream` drops a byte order mark at the start; StringDecoder keeps it.
  let first = true;
  const decode = (bytes: Uint8Array) => {
    const text = decoder.write(bytes);
    if (!first || text === '') return text;
    first = false;
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  };
  let cancelled = false;
  return new ReadableStream<LanguageModelV3StreamPart>({
    start(controller) {
      out = controller;
      controller.enqueue({ type: 'stream-start', warnings });
    },
    // Reads until this read produced a part (or the body ended), so each pull is answered.
    async pull(controller) {
      const before = made;
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw readFailure(error, call);
        }
        const { done, value } = chunk;
        // Cancelled while this read waited (the read then ends as done): the stream is closed already.
        if (cancelled) return;
        if (done) {
          parser.feed(decoder.end());
          for (const part of state.end()) controller.enqueue(part);
          controller.close();
          return;
        }
        parser.feed(decode(value));
        if (made > before) return;
      }
    },
    cancel(reason) {
      cancelled = true;
      return reader.cancel(reason);
    },
  });
}

/** What the SDK's transform keeps across chunks, and the parts each chunk makes. */
/** The two kinds of block an answer streams, as the SDK names their parts (one block of each kind). */
const BLOCKS = {
  text: { id: 'txt-0', start: 'text-start', delta: 'text-delta', end: 'text-end' },
  reasoning: { id: 'reasoning-0', start: 'reasoning-start', delta: 'reasoning-delta', end: 'reasoning-end' },
} as const;

class AnswerState {
  #firstChunk = true;
  /** The block open now: a delta of the other kind ends it first, as in the SDK. */
  #open: keyof typeof BLOCKS | undefined;
  #hasRefusal = false;
  #rawFinishReason: string | undefined;
  #errored = false;
  #usage: Usage;

  constructor(private readonly providerName: string) {}

  chunk(data: string, emit: (part: LanguageModelV3StreamPart) => void): void {
    let value: unknown;
    try {
      value = secureJsonParse(data);
    } catch (cause) {
      this.#fail(new JSONParseError({ text: data, cause }), emit);
      return;
    }
    const parsed = chunkSchema.safeParse(value);
    if (!parsed.success) {
      this.#fail(new TypeValidationError({ value, cause: parsed.error }), emit);
      return;
    }
    const chunk: Chunk = parsed.data;
    if ('error' in chunk) {
      this.#fail(chunk.error, emit);
      return;
    }
    if (this.#firstChunk) {
      this.#firstChunk = false;
      emit({ type: 'response-metadata', ...getResponseMetadata(chunk) });
    }
    if (chunk.usage != null) this.#usage = chunk.usage;
    const choice = chunk.choices[0];
    if (choice?.finish_reason != null) this.#rawFinishReason = choice.finish_reason;
    const delta = choice?.delta;
    if (delta == null) return;
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (reasoning) this.#delta('reasoning', reasoning, emit);
    for (const part of contentParts(delta.content)) this.#delta(part.type, part.text, emit);
    if (typeof delta.refusal === 'string' && delta.refusal.length > 0) {
      this.#hasRefusal = true;
      this.#delta('text', delta.refusal, emit);
    }
    // Tool calls end a reasoning block (not a text one), as in the SDK.
    if (delta.tool_calls != null && delta.tool_calls.length > 0 && this.#open === 'reasoning') {
      this.#close(emit);
    }
  }

  /** The parts after the last chunk: open blocks closed, then `finish` (after an `error` when none came). */
  end(): LanguageModelV3StreamPart[] {
    const parts: LanguageModelV3StreamPart[] = [];
    this.#close((part) => parts.push(part));
    let finishReason: LanguageModelV3FinishReason = { unified: 'error', raw: undefined };
    if (this.#rawFinishReason !== undefined) {
      finishReason = {
        unified: mapOpenAICompatibleFinishReason(this.#rawFinishReason, { hasRefusal: this.#hasRefusal }),
        raw: this.#rawFinishReason,
      };
    } else if (!this.#errored) {
      parts.push({
        type: 'error',
        error: new InvalidResponseDataError({
          data: undefined,
          message: 'Response stream ended without a finish reason.',
        }),
      });
    }
    const details = this.#usage?.completion_tokens_details;
    const metadata: Record<string, number> = {};
    if (details?.accepted_prediction_tokens != null) {
      metadata.acceptedPredictionTokens = details.accepted_prediction_tokens;
    }
    if (details?.rejected_prediction_tokens != null) {
      metadata.rejectedPredictionTokens = details.rejected_prediction_tokens;
    }
    parts.push({
      type: 'finish',
      finishReason,
      usage: convertOpenAICompatibleChatUsage(this.#usage),
      providerMetadata: { [this.providerName]: metadata },
    });
    return parts;
  }

  /** An event the SDK reports as an `error` part (reading goes on; the finish then says `error`). */
  #fail(error: unknown, emit: (part: LanguageModelV3StreamPart) => void): void {
    this.#errored = true;
    emit({ type: 'error', error });
  }

  #delta(kind: keyof typeof BLOCKS, delta: string, emit: (part: LanguageModelV3StreamPart) => void): void {
    const block = BLOCKS[kind];
    if (this.#open !== kind) {
      this.#close(emit);
      emit({ type: block.start, id: block.id });
      this.#open = kind;
    }
    emit({ type: block.delta, id: block.id, delta });
  }

  #close(emit: (part: LanguageModelV3StreamPart) => void): void {
    if (this.#open === undefined) return;
    const block = BLOCKS[this.#open];
    emit({ type: block.end, id: block.id });
    this.#open = undefined;
  }
}

/** The SDK's `convertOpenAICompatibleContent`: a delta's content as text and reasoning parts. */
function contentParts(
  content: string | ReadonlyArray<{ readonly type: string }> | null | undefined,
): Array<{ type: 'text' | 'reasoning'; text: string }> {
  if (content == null) return [];
  if (typeof content === 'string') return content.length > 0 ? [{ type: 'text', text: content }] : [];
  const parts: Array<{ type: 'text' | 'reasoning'; text: string }> = [];
  for (const part of content as ReadonlyArray<Record<string, unknown>>) {
    if (part.type === 'text' && typeof part.text === 'string') {
      if (part.text.length > 0) parts.push({ type: 'text', text: part.text });
    } else if (part.type === 'thinking' && Array.isArray(part.thinking)) {
      const text = part.thinking
        .filter(
          (item): item is { type: 'text'; text: string } =>
            item != null && typeof item === 'object' && item.type === 'text' && typeof item.text === 'string',
        )
        .map((item) => item.text)
        .join('');
      if (text.length > 0) parts.push({ type: 'reasoning', text });
    }
  }
  return parts;
}
