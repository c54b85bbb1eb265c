/**
 * Lingering close, for an answer sent before the request's body was read (a 413 decided from
 * Content-Length alone). Node closes such a connection as soon as the answer is written, while
 * the client is usually still sending; the kernel then resets the connection over the unread
 * bytes, and the reset can discard the answer before the client reads it, so the client sees
 * EPIPE or ECONNRESET instead of the 413. As web servers do, the gateway sends its answer and a
 * FIN, reads and discards what still comes, and closes once the client has finished sending or
 * a bound in bytes or time is reached.
 */
import type { IncomingMessage } from 'node:http';

export interface LingerBounds {
  /** Longest the connection stays open after the answer. */
  readonly ms: number;
  /** Most bytes read and discarded before closing anyway. */
  readonly bytes: number;
}

export const DEFAULT_LINGER: LingerBounds = { ms: 5_000, bytes: 64 * 1024 * 1024 };

/** Makes the close that follows the answer to `request` a lingering one. */
export function lingerAfterAnswer(request: IncomingMessage, bounds: LingerBounds = DEFAULT_LINGER): void {
  const socket = request.socket;
  if (request.complete || socket.destroyed) return;
  let discarded = 0;
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > bounds.bytes) socket.destroy();
  });
  request.once('end', () => socket.destroy());
  request.resume();
  // Node ends an answer marked `Connection: close` with destroySoon(): replace it, for this
  // connection only, with a half-close that keeps reading.
  socket.destroySoon = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), bounds.ms);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
}
