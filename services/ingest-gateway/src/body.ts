/**
 * Owns turning request bytes into items: decompression (gzip, zstd) with a hard cap on the
 * decompressed size, so a small bomb cannot grow past the limit, and JSON / NDJSON parsing that
 * refuses prototype-polluting keys. The compressed size is capped by Fastify's body limit.
 */
import { gunzipSync } from 'node:zlib';
import { Decompress } from 'fzstd';
import secureJson from 'secure-json-parse';
import { AppError } from '@aispm/errors';

/** Decompresses `body` per Content-Encoding, never producing more than `maxBytes`. */
export function decodeBody(body: Buffer, contentEncoding: string | undefined, maxBytes: number): Buffer {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') {
    return body;
  }
  if (encoding === 'gzip') {
    try {
      return gunzipSync(body, { maxOutputLength: maxBytes });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
        throw tooLarge(maxBytes);
      }
      throw new AppError(
        'GW_BAD_REQUEST',
        `gzip body could not be decompressed: ${(error as Error).message}`,
      );
    }
  }
  if (encoding === 'zstd') return zstd(body, maxBytes);
  throw new AppError(
    'GW_UNSUPPORTED_MEDIA_TYPE',
    `Content-Encoding ${encoding} is not supported (use gzip or zstd)`,
  );
}

function tooLarge(maxBytes: number): AppError {
  return new AppError('GW_BODY_TOO_LARGE', `Decompressed body exceeds ${maxBytes} bytes`);
}

function zstd(body: Buffer, maxBytes: number): Buffer {
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Streaming, so decompression stops at the limit instead of after allocating the whole bomb.
  const stream = new Decompress((chunk) => {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  });
  try {
    stream.push(body, true);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('GW_BAD_REQUEST', `zstd body could not be decompressed: ${(error as Error).message}`);
  }
  return Buffer.concat(chunks);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text; invalid UTF-8 is refused rather than silently replaced with U+FFFD. */
export function decodeUtf8(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new AppError('GW_BAD_JSON', 'Body is not valid UTF-8', {
      fields: [{ pointer: '/', detail: 'invalid UTF-8' }],
    });
  }
}

/** Parses JSON, refusing `__proto__` and `constructor.prototype` keys. */
export function parseJson(text: string, pointer = '/'): unknown {
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    throw new AppError('GW_BAD_JSON', `Body is not valid JSON: ${(error as Error).message}`, {
      fields: [{ pointer, detail: (error as Error).message }],
    });
  }
}

/** A batch body: a JSON array, or NDJSON (one envelope a line); at most `maxItems`. */
export function parseBatch(text: string, ndjson: boolean, maxItems: number): unknown[] {
  let items: unknown[];
  if (ndjson) {
    items = text
      .split('\n')
      .map((line, index) => ({ line: line.trim(), index }))
      .filter(({ line }) => line !== '')
      .map(({ line, index }) => parseJson(line, `/${index}`));
  } else {
    const parsed = parseJson(text);
    if (!Array.isArray(parsed)) {
      throw new AppError('GW_BAD_REQUEST', 'A JSON batch must be an array of envelopes', {
        fields: [{ pointer: '/', detail: 'expected an array' }],
      });
    }
    items = parsed;
  }
  if (items.length === 0) throw new AppError('GW_BAD_REQUEST', 'The batch is empty');
  if (items.length > maxItems) {
    throw new AppError(
      'GW_BODY_TOO_LARGE',
      `The batch has ${items.length} items; at most ${maxItems} are allowed`,
    );
  }
  return items;
}
