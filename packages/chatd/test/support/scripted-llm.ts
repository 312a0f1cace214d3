import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isTitleRequest } from '../../src/chat/chat-titles.js';

/** How the scripted server answers one request. */
export type ScriptedReply =
  /** An HTTP error before any output. */
  | { readonly status: number; readonly message?: string; readonly delayMs?: number }
  /**
   * A streamed answer: `chunks` in order, the first after `firstDelayMs`, the others `delayMs` apart;
   * then `end`: 'finish' (a normal end), 'hang' (nothing more, the connection left open) or 'cut' (the
   * socket destroyed mid-answer). A request that does not ask for a stream gets the same text whole, as
   * one JSON completion, once the last chunk is due ('hang': no answer; 'cut': the socket destroyed).
   */
  | {
      readonly chunks: readonly string[];
      readonly firstDelayMs?: number;
      readonly delayMs?: number;
      readonly end?: 'finish' | 'hang' | 'cut';
      readonly finishReason?: 'stop' | 'length';
    };

/** One request the server received. */
export interface ScriptedRequest {
  /** 1 for the first request. */
  readonly index: number;
  /** The content of the last user message of the prompt. */
  readonly lastUserContent: string;
  /** The prompt's messages, as sent. */
  readonly messages: ReadonlyArray<{ role: string; content: unknown }>;
  /** The whole request body, as sent (`max_tokens`, `temperature`…). */
  readonly body: Readonly<Record<string, unknown>>;
  /** When the request arrived (Date.now()). */
  readonly receivedAt: number;
  /** The request's `Authorization` header, as sent; undefined when it had none. */
  readonly authorization: string | undefined;
  /** A title request (its system prompt is the title instruction), not a turn's. */
  readonly isTitle: boolean;
  /** Set when the client closed the connection before the answer ended. */
  closedEarlyAt: number | undefined;
  /** Set when the answer was written to its end. */
  finishedAt: number | undefined;
}

/** An OpenAI-compatible server whose every answer a test scripts. */
export interface ScriptedLlm {
  /** Base URL for an `openai-compat` provider (`…/v1`). */
  readonly url: string;
  readonly requests: readonly ScriptedRequest[];
  /** Requests whose last user message is `content`, title requests left out (see {@link titleRequests}). */
  requestsFor(content: string): ScriptedRequest[];
  /** The title requests (system prompt: the title instruction), in order. */
  titleRequests(): ScriptedRequest[];
  close(): Promise<void>;
}

/**
 * Starts an OpenAI-compatible chat completions server on loopback whose answers come from `script`, for
 * tests that need a provider to misbehave in one precise way (a NUL character, a stream that hangs, an
 * answer slow enough to act during it). Real HTTP and the real SSE format: chatd talks to it through the
 * AI SDK exactly as to a real provider.
 */
export async function startScriptedLlm(
  script: (request: ScriptedRequest) => ScriptedReply,
): Promise<ScriptedLlm> {
  const requests: ScriptedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = JSON.parse(await readBody(req)) as {
      messages: Array<{ role: string; content: unknown }>;
    } & Record<string, unknown>;
    const lastUser = [...body.messages].reverse().find((message) => message.role === 'user');
    const request: ScriptedRequest = {
      index: requests.length + 1,
      lastUserContent: textOf(lastUser?.content),
      messages: body.messages,
      body,
      receivedAt: Date.now(),
      authorization: req.headers.authorization,
      isTitle: isTitleRequest(body.messages),
      closedEarlyAt: undefined,
      finishedAt: undefined,
    };
    requests.push(request);
    res.on('close', () => {
      if (request.finishedAt === undefined) request.closedEarlyAt = Date.now();
    });
    const reply = script(request);
    if ('status' in reply) {
      await sleep(reply.delayMs ?? 0);
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { message: reply.message ?? 'scripted failure', type: 'invalid_request_error' },
        }),
      );
      request.finishedAt = Date.now();
      return;
    }
    if (body.stream !== true) {
      await answerWhole(res, reply);
      if (!res.destroyed && reply.end !== 'hang') request.finishedAt = Date.now();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    await sleep(reply.firstDelayMs ?? 0);
    for (const [index, chunk] of reply.chunks.entries()) {
      if (res.destroyed) return;
      if (index > 0) await sleep(reply.delayMs ?? 0);
      res.write(sse({ choices: [{ index: 0, delta: { content: chunk }, finish_reason: null }] }));
    }
    const end = reply.end ?? 'finish';
    if (end === 'hang') return;
    if (end === 'cut') {
      res.socket?.destroy();
      return;
    }
    res.write(
      sse({
        choices: [{ index: 0, delta: {}, finish_reason: reply.finishReason ?? 'stop' }],
        usage: {
          prompt_tokens: 10,
          completion_tokens: reply.chunks.length,
          total_tokens: 10 + reply.chunks.length,
        },
      }),
    );
    res.write('data: [DONE]\n\n');
    request.finishedAt = Date.now();
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    requestsFor: (content) =>
      requests.filter((request) => !request.isTitle && request.lastUserContent === content),
    titleRequests: () => requests.filter((request) => request.isTitle),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A non-streamed answer: the chunks' text in one `chat.completion`, when the last chunk is due. */
async function answerWhole(
  res: ServerResponse,
  reply: Extract<ScriptedReply, { readonly chunks: readonly string[] }>,
): Promise<void> {
  await sleep((reply.firstDelayMs ?? 0) + (reply.delayMs ?? 0) * Math.max(0, reply.chunks.length - 1));
  if (res.destroyed || reply.end === 'hang') return;
  if (reply.end === 'cut') {
    res.socket?.destroy();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: 'chatcmpl-scripted',
      object: 'chat.completion',
      created: 0,
      model: 'scripted',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: reply.chunks.join('') },
          finish_reason: reply.finishReason ?? 'stop',
        },
      ],
      usage: {
        prompt_tokens: 10,
        completion_tokens: reply.chunks.length,
        total_tokens: 10 + reply.chunks.length,
      },
    }),
  );
}

function sse(chunk: object): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-scripted', object: 'chat.completion.chunk', created: 0, model: 'scripted', ...chunk })}\n\n`;
}

/** The text of a message's content as sent: a string, or an array of text parts. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part) => (part as { text?: string }).text ?? '').join('');
  }
  return '';
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
