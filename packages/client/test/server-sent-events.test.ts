import { describe, expect, it } from 'vitest';
import { readServerSentEvents, type ServerSentEvent } from '../src/server-sent-events.js';

/** A body that arrives in exactly these chunks. */
function bodyOf(chunks: string[]): ReadableStreamDefaultReader<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  }).getReader();
}

async function collect(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  onChunk?: () => void,
): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  for await (const event of readServerSentEvents(reader, onChunk ? { onChunk } : {})) events.push(event);
  return events;
}

describe('readServerSentEvents', () => {
  it('reads named, unnamed and identified events, split anywhere across chunks', async () => {
    const text =
      'event: status\ndata: {"status":"running"}\n\ndata: plain\n\nid: 7\nevent: message\ndata: {"id":7}\n\n';
    const whole = await collect(bodyOf([text]));
    expect(whole).toEqual([
      { event: 'status', data: '{"status":"running"}' },
      { event: 'message', data: 'plain' },
      { event: 'message', data: '{"id":7}', id: '7' },
    ]);
    // Every split of the text into two chunks gives the same events (a multi-byte character included).
    const accented = 'event: title\ndata: Café ☕\n\n';
    for (const sample of [text, accented]) {
      const bytes = new TextEncoder().encode(sample);
      const expected = await collect(bodyOf([sample]));
      for (let at = 1; at < bytes.length; at++) {
        const reader = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(bytes.slice(0, at));
            controller.enqueue(bytes.slice(at));
            controller.close();
          },
        }).getReader();
        expect(await collect(reader)).toEqual(expected);
      }
    }
  });

  it('reports every chunk, a keepalive comment too, and ends with the body', async () => {
    let chunks = 0;
    const events = await collect(
      bodyOf([': keepalive\n\n', 'event: title\ndata: A\n\n', ': keepalive\n\n']),
      () => {
        chunks++;
      },
    );
    expect(events).toEqual([{ event: 'title', data: 'A' }]);
    expect(chunks).toBe(3);
    const comments: string[] = [];
    for await (const _ of readServerSentEvents(bodyOf([': keepalive\n\n', ':credential ended\n\n']), {
      onComment: (comment) => comments.push(comment),
    }));
    expect(comments).toEqual(['keepalive', 'credential ended']);
  });

  it('ends when the reader is cancelled while it waits for a chunk', async () => {
    const reader = new ReadableStream<Uint8Array>({ start() {} }).getReader();
    const reading = collect(reader);
    await reader.cancel();
    expect(await reading).toEqual([]);
  });
});
