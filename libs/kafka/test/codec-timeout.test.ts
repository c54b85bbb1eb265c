import { createServer, type Server, type Socket } from 'node:net';
import { StageCodec } from '../src/codec';

/** A registry that takes every connection and never answers. */
let silent: Server;
const sockets: Socket[] = [];
let url: string;

beforeAll(async () => {
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  url = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

/** A wire-format message naming schema id 7. */
const message = Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from('{}')]);

describe('StageCodec against a registry that never answers', () => {
  it('fails a decode instead of waiting for good', async () => {
    const codec = new StageCodec(url, 100);
    await expect(codec.decode(message)).rejects.toThrow(/timeout/i);
  }, 30_000);

  it('fails registration instead of waiting for good', async () => {
    const codec = new StageCodec(url, 100);
    await expect(codec.register(['control'])).rejects.toThrow(/unreachable|timeout|compatibility/i);
  }, 30_000);
});
