import type { IncomingMessage } from 'node:http';

/** The default most of an unread request body that is read and discarded before an early answer. */
export const DEFAULT_MAX_DISCARDED_BODY_BYTES = 16 * 1024 * 1024;

/**
 * Reads what is left of `request`'s body and throws it away, up to `maxBytes`, so that an answer given
 * before the body was read (413 for a body over the limit, 401 before the body of an unauthenticated
 * request, 415) reaches the client.
 *
 * Why: an answer to a request whose body is still arriving is followed by closing the connection (Fastify
 * sends `Connection: close` after a body error, and Node closes the socket once the answer is written).
 * Closing a TCP socket with unread data in its receive buffer makes the kernel send a reset, not a FIN;
 * a client still writing its body then gets EPIPE or ECONNRESET, often before it has read the answer
 * (which the reset also discards from its receive buffer). Read to its end, the body leaves nothing
 * unread, the close is orderly and the client reads the answer after it finished sending, as HTTP/1.1
 * clients expect.
 *
 * Bounded: a declared `Content-Length` over `maxBytes`, or more than `maxBytes` read here, gives up at
 * once (the stream is paused, so Node reads no more of it); so does a connection that ends first. The
 * time spent is bounded by the server's request timeout, which covers the whole request, body included.
 *
 * @returns true when the body was read to its end (or had been), false when this gave up.
 */
export function discardRequestBody(request: IncomingMessage, maxBytes: number): Promise<boolean> {
  if (request.complete || request.readableEnded) return Promise.resolve(true);
  if (request.destroyed) return Promise.resolve(false);
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve(false);

  return new Promise((resolve) => {
    let discarded = 0;
    const finish = (drained: boolean) => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onFailure);
      request.off('close', onFailure);
      if (!drained) request.pause();
      resolve(drained);
    };
    const onData = (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > maxBytes) finish(false);
    };
    const onEnd = () => finish(true);
    const onFailure = () => finish(false);
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onFailure);
    request.once('close', onFailure);
    request.resume();
  });
}
