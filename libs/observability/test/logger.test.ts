import { PassThrough } from 'node:stream';
import fastify, { type FastifyBaseLogger } from 'fastify';
import { createLogger, redactUrl } from '../src';

describe('redactUrl', () => {
  it('hides the values of credential parameters and keeps the rest', () => {
    expect(redactUrl('/enterprise/aispm/events?api_key=aispm_ck_x&tenant=acme')).toBe(
      '/enterprise/aispm/events?api_key=[redacted]&tenant=acme',
    );
    expect(redactUrl('/s?access_token=a&Authorization=b&signing%5Fsecret=c&password=d')).toBe(
      '/s?access_token=[redacted]&Authorization=[redacted]&signing%5Fsecret=[redacted]&password=[redacted]',
    );
    expect(redactUrl('/replay-log?stage=raw&from_offset=3')).toBe('/replay-log?stage=raw&from_offset=3');
    expect(redactUrl('/x?flag&%zz=1')).toBe('/x?flag&%zz=1');
    expect(redactUrl('/plain')).toBe('/plain');
  });
});

describe('createLogger', () => {
  it('keeps a key sent in the query string out of the request log', async () => {
    const sink = new PassThrough();
    const lines: string[] = [];
    sink.on('data', (chunk: Buffer) => lines.push(chunk.toString('utf8')));
    const app = fastify({ loggerInstance: createLogger('test', 't-0', 'info', sink) as FastifyBaseLogger });
    app.get('/enterprise/aispm/dashboard', async (_request, reply) => reply.code(401).send({}));
    // A real request: inject() loads an ES module jest's CommonJS transform cannot.
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      await (
        await fetch(`${base}/enterprise/aispm/dashboard?api_key=aispm_rk_SECRET&tenant=acme`)
      ).arrayBuffer();
    } finally {
      await app.close();
    }
    const log = lines.join('');
    expect(log).toContain('api_key=[redacted]&tenant=acme');
    expect(log).not.toContain('SECRET');
  });
});
