import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ReplayCache, verifySignature } from '@aispm/auth';
import {
  backoffMs,
  BATCH_PATH,
  buildEnvelope,
  Collector,
  hookDrafts,
  parseRetryAfter,
  Spool,
  type Log,
  type ReceiptsByFile,
} from '../src';
import { fixture } from './fixtures';

const quiet: Log = () => undefined;
const settings = {
  tenantRef: 'tenant:test',
  environment: 'dev' as const,
  connectorId: 'c-1',
  hostName: 'h',
  collectorVersion: 'test',
  signed: true,
};
const drafts = [
  ...hookDrafts(fixture('claude-code-pre-tool-use-bash.json'), { now: '2026-06-11T08:00:00Z' }),
  ...hookDrafts(fixture('claude-code-post-tool-use-write.json'), { now: '2026-06-11T08:00:00Z' }),
];

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void;

async function gateway(handlers: Handler[]): Promise<{ server: Server; url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      bodies.push(body);
      (handlers.length > 1 ? handlers.shift()! : handlers[0]!)(request, body, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies };
}

function spoolDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'aispm-spool-test-'));
}

describe('backoff', () => {
  it('grows exponentially under full jitter, capped, and never below Retry-After', () => {
    expect(backoffMs(0, undefined, () => 0.999)).toBe(249);
    expect(backoffMs(3, undefined, () => 0.5)).toBe(1000);
    expect(backoffMs(30, undefined, () => 1)).toBe(30_000);
    expect(backoffMs(0, 5_000, () => 1)).toBe(5_000);
    expect(backoffMs(0, undefined, () => 0)).toBe(0);
  });

  it('reads Retry-After as seconds or a date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
  });
});

describe('spool', () => {
  it('keeps envelopes across instances (a restart) and drops the oldest past its bound', () => {
    const dir = spoolDir();
    const logged: string[] = [];
    const first = new Collector({
      target: { url: 'http://127.0.0.1:1', credential: 'k' },
      settings,
      spool: new Spool(dir, 3, quiet),
      log: quiet,
    });
    expect(first.record(drafts)).toBe(2);
    const reopened = new Spool(dir, 3, (_level, message) => logged.push(message));
    expect(reopened.take(10).map((e) => e.envelope.event.tool_name)).toEqual(['Bash', 'Write']);
    new Collector({
      target: { url: 'http://127.0.0.1:1', credential: 'k' },
      settings,
      spool: reopened,
      log: quiet,
    }).record([...drafts, ...drafts]);
    expect(reopened.size()).toBe(3);
    expect(logged).toEqual(['spool full; dropped the oldest events']);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});

describe('collector', () => {
  it('retries a 503 no sooner than Retry-After, signs each request, and drops only what is refused', async () => {
    const { server, url, bodies } = await gateway([
      (_request, _body, response) => response.writeHead(503, { 'retry-after': '2' }).end('{}'),
      (request, body, response) => {
        verifySignature({
          secret: 'signing-secret',
          method: 'POST',
          path: BATCH_PATH,
          body,
          timestampHeader: request.headers['x-aispm-timestamp'],
          signatureHeader: request.headers['x-aispm-signature'],
          nowMs: Date.now(),
          replayCache: new ReplayCache({ maxEntries: 10 }),
        });
        response.writeHead(207, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            items: [
              { index: 0, outcome: 'accepted' },
              { index: 1, outcome: 'rejected', code: 'GW_SCOPE_DENIED', reason: 'out of scope' },
            ],
          }),
        );
      },
    ]);
    const waits: number[] = [];
    const spool = new Spool(spoolDir(), 100, quiet);
    const collector = new Collector({
      target: { url, credential: 'api-key', signingSecret: 'signing-secret' },
      settings,
      spool,
      log: quiet,
      random: () => 0.5,
      sleep: async (ms) => void waits.push(ms),
    });
    collector.record(drafts);
    try {
      expect(await collector.flush(60_000)).toEqual({ delivered: 1, refused: 1, pending: 0 });
    } finally {
      server.close();
    }
    expect(waits).toEqual([2000]);
    const [first, second] = bodies.map(
      (body) => JSON.parse(body) as { transport: { retry_count: number; idempotency_key: string } }[],
    );
    expect(first!.map((e) => e.transport.retry_count)).toEqual([0, 0]);
    expect(second!.map((e) => e.transport.retry_count)).toEqual([1, 1]);
    expect(second!.map((e) => e.transport.idempotency_key)).toEqual(
      first!.map((e) => e.transport.idempotency_key),
    );
  });

  it('leaves everything spooled when nothing listens, without waiting to retry, and never throws', async () => {
    const waits: number[] = [];
    const spool = new Spool(spoolDir(), 100, quiet);
    // A port that was just free: nothing listens on it.
    const { server, url } = await gateway([]);
    await new Promise((resolve) => server.close(resolve));
    const collector = new Collector({
      target: { url, credential: 'k' },
      settings,
      spool,
      log: quiet,
      sleep: async (ms) => void waits.push(ms),
    });
    collector.record(drafts);
    expect(await collector.flush(60_000)).toEqual({ delivered: 0, refused: 0, pending: 2 });
    expect(waits).toEqual([]);
  });

  it('retries a gateway that does not answer in time, until the deadline', async () => {
    const { server, url } = await gateway([() => undefined]);
    const spool = new Spool(spoolDir(), 100, quiet);
    const waits: number[] = [];
    const collector = new Collector({
      target: { url, credential: 'k' },
      settings,
      spool,
      log: quiet,
      requestTimeoutMs: 100,
      random: () => 0,
      sleep: async (ms) => void waits.push(ms),
    });
    collector.record(drafts);
    try {
      expect(await collector.flush(1_000)).toEqual({ delivered: 0, refused: 0, pending: 2 });
    } finally {
      server.closeAllConnections();
      server.close();
    }
    expect(waits.length).toBeGreaterThan(0);
  });

  it('holds events when the credential is refused', async () => {
    const { server, url } = await gateway([
      (_request, _body, response) => response.writeHead(401).end('{"code":"GW_UNAUTHENTICATED"}'),
    ]);
    const spool = new Spool(spoolDir(), 100, quiet);
    const collector = new Collector({ target: { url, credential: 'bad' }, settings, spool, log: quiet });
    collector.record(drafts);
    try {
      expect(await collector.flush(5_000)).toEqual({ delivered: 0, refused: 0, pending: 2 });
    } finally {
      server.close();
    }
  });

  it('reports the receipt of each envelope it settled by spool file, and why the rest waits', async () => {
    const { server, url } = await gateway([
      (_request, _body, response) =>
        response.writeHead(207, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            items: [
              {
                index: 0,
                outcome: 'accepted',
                event_id: 'a',
                topic: 'aispm.t.raw',
                partition: 0,
                offset: '7',
              },
              { index: 1, outcome: 'rejected', event_id: 'b', code: 'GW_SCHEMA_INVALID', reason: 'bad' },
            ],
          }),
        ),
      (_request, _body, response) => response.writeHead(401).end('{"code":"GW_UNAUTHENTICATED"}'),
    ]);
    const spool = new Spool(spoolDir(), 100, quiet);
    const collector = new Collector({
      target: { url, credential: 'k' },
      settings,
      spool,
      log: quiet,
      batchSize: 2,
    });
    const envelopes = drafts.map((draft) => buildEnvelope(draft, settings));
    const files = collector.enqueue([...envelopes, envelopes[0]!]);
    const receipts: ReceiptsByFile = new Map();
    try {
      const report = await collector.send(5_000, receipts);
      expect(report).toMatchObject({ delivered: 1, refused: 1, pending: 1 });
      expect(report.heldBecause).toMatch(/^HTTP 401/);
    } finally {
      server.close();
    }
    expect(receipts.get(files[0]!)).toEqual({
      outcome: 'accepted',
      event_id: 'a',
      topic: 'aispm.t.raw',
      partition: 0,
      offset: '7',
    });
    expect(receipts.get(files[1]!)).toMatchObject({ outcome: 'rejected', code: 'GW_SCHEMA_INVALID' });
    expect(receipts.has(files[2]!)).toBe(false);
  });

  it('spools an envelope whose event id is no safe file name', () => {
    const spool = new Spool(spoolDir(), 100, quiet);
    const envelope = buildEnvelope(drafts[0]!, settings);
    const { files } = spool.add([
      { ...envelope, event: { ...envelope.event, event_id: '../../etc/passwd' } },
    ]);
    expect(files[0]).toMatch(/-\.\._\.\._etc_passwd\.json$/);
    expect(spool.take(10).map((entry) => entry.envelope.event.event_id)).toEqual(['../../etc/passwd']);
  });
});
