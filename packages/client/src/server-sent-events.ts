import { createParser } from 'eventsource-parser';

/** One Server-Sent Event as it came: its name (`message` when unnamed), its data as text, its id. */
export interface ServerSentEvent {
  readonly event: string;
  readonly data: string;
  readonly id?: string;
}

/**
 * The events of a `text/event-stream` body, in order, as they arrive (parsed by `eventsource-parser`).
 * Ends when the body ends, or when the read fails (cancelling `reader` ends a read in progress). The
 * caller owns `reader`: leaving the loop early does not cancel it. `onChunk` runs for every chunk read,
 * comments (keepalives) included, which is how a caller tells a live connection from a silent one;
 * `onComment` gets each comment line's text (`: keepalive` gives `keepalive`).
 */
export async function* readServerSentEvents(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  options: { onChunk?: () => void; onComment?: (comment: string) => void } = {},
): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  const ready: ServerSentEvent[] = [];
  const parser = createParser({
    ...(options.onComment ? { onComment: (comment: string) => options.onComment!(comment.trim()) } : {}),
    onEvent({ event, data, id }) {
      ready.push(
        id === undefined ? { event: event ?? 'message', data } : { event: event ?? 'message', data, id },
      );
    },
  });
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) return;
    options.onChunk?.();
    parser.feed(decoder.decode(chunk.value, { stream: true }));
    while (ready.length > 0) yield ready.shift()!;
  }
}
