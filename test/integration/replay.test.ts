/**
 * Replay (DESIGN §12) against the real servers: `aispm replay` into NDJSON by offset, time and
 * partition; the dry run; who may replay the raw stage; the auditors' API; reinjection of raw
 * events and dead letters with nothing counted twice; a rebuild of the projections in another
 * database that equals the live one; and an audit event for every replay.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { joinSql, name, sql, type Sql } from '@aispm/clickhouse';
import { SCHEMA_NAMES, tenantTopic, TOPIC_SCHEMAS, type DlqRecord, type Envelope } from '@aispm/contracts';
import { StageCodec } from '@aispm/kafka';
import { LocalKms, RawEncryptor } from '@aispm/kms';
import { Kafka, logLevel } from 'kafkajs';
import {
  cli,
  clickhouse,
  eventually,
  exampleEnvelope,
  KAFKA_BROKERS,
  postToGateway,
  REPO,
  SCHEMA_REGISTRY_URL,
  startPipeline,
  type Pipeline,
} from '../support/platform';

jest.setTimeout(300_000);

const EVENTS = 8;

interface Line {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  value: Record<string, unknown> | null;
  error?: { code: string };
}

function readLines(text: string): Line[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Line);
}

/** Runs the CLI expecting it to fail; returns its exit code and stderr. */
function cliFails(args: string[], env: NodeJS.ProcessEnv): { status: number | null; stderr: string } {
  const run = spawnSync(process.execPath, [path.join(REPO, 'libs/cli/bin/aispm.js'), ...args], {
    env,
    encoding: 'utf8',
  });
  expect(run.status).not.toBe(0);
  return { status: run.status, stderr: run.stderr };
}

describe('replay', () => {
  let pipeline: Pipeline;
  let dir: string;
  let auditorKeyFile: string;
  let auditorKey: string;
  let viewerKey: string;
  let adminKey: string;
  // A client per statement: the CLI runs synchronously, and a blocked event loop lets pooled
  // keep-alive sockets go stale.
  const ch = {
    async query<T>(statement: Sql | string): Promise<T[]> {
      const client = clickhouse();
      try {
        return await client.query<T>(statement);
      } finally {
        await client.close();
      }
    },
    async command(statement: Sql | string): Promise<void> {
      const client = clickhouse();
      try {
        await client.command(statement);
      } finally {
        await client.close();
      }
    },
  };
  const kafka = new Kafka({
    clientId: 'replay-test',
    brokers: KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  const producer = kafka.producer();
  const codec = new StageCodec(SCHEMA_REGISTRY_URL);
  const envelopes: Envelope[] = [];

  const eventsTable = () => sql`${name(pipeline.database)}.events`;
  const countFinal = async () =>
    Number(
      (
        await ch.query<{ n: string }>(
          sql`SELECT count() AS n FROM ${eventsTable()} FINAL WHERE tenant = ${pipeline.tenant}`,
        )
      )[0]!.n,
    );
  const endOffsets = async (stage: 'raw' | 'normalized' | 'dlq') =>
    new Map(
      (await admin.fetchTopicOffsets(tenantTopic(pipeline.tenant, stage))).map((p) => [
        p.partition,
        BigInt(p.high),
      ]),
    );
  const auditRows = async (action: string) =>
    ch.query<{ actor_kind: string; actor_id: string; record: string }>(
      sql`SELECT actor_kind, actor_id, record FROM ${name(pipeline.database)}.audit_log FINAL WHERE tenant = ${pipeline.tenant} AND action = ${action} ORDER BY position`,
    );

  function envelope(i: number): Envelope {
    const e = exampleEnvelope();
    e.tenant.tenant_ref = pipeline.tenantRef;
    e.event.event_id = `evt_replay_${i}`;
    e.event.session_id = `sess_replay_${i}`;
    e.transport.idempotency_key = `idem_replay_${i}`;
    return e;
  }

  async function reader(role: string): Promise<string> {
    const created = await pipeline.admin('POST', '/readers', { tenant: pipeline.tenant, role });
    expect(created.status).toBe(201);
    return String(created.body.api_key);
  }

  beforeAll(async () => {
    pipeline = await startPipeline();
    dir = mkdtempSync(path.join(os.tmpdir(), 'aispm-replay-'));
    [auditorKey, viewerKey, adminKey] = [
      await reader('auditor'),
      await reader('viewer'),
      await reader('admin'),
    ];
    auditorKeyFile = path.join(dir, 'auditor.key');
    writeFileSync(auditorKeyFile, `${auditorKey}\n`, { mode: 0o600 });
    await Promise.all([admin.connect(), producer.connect(), codec.register(SCHEMA_NAMES)]);
    for (let i = 0; i < EVENTS; i += 1) envelopes.push(envelope(i));
    const sent = await postToGateway(
      pipeline.gatewayUrl,
      '/enterprise/aispm/events/batch',
      pipeline.apiKey,
      envelopes,
      {
        secret: pipeline.signingSecret,
      },
    );
    expect(sent.status).toBe(202);
    await eventually(
      'every event projected',
      async () => ((await countFinal()) === EVENTS ? true : undefined),
      120_000,
    );
  });

  afterAll(async () => {
    await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
    await ch.command(`DROP DATABASE IF EXISTS ${pipeline.database}_rebuild`).catch(() => undefined);
    await pipeline?.stop();
  });

  it('replays the normalized stage into an NDJSON file, in offset order per partition, and audits it', async () => {
    const out = path.join(dir, 'normalized.ndjson');
    const summary = cli(
      ['replay', '--tenant', pipeline.tenant, '--stage', 'normalized', '--out', out],
      pipeline.env,
    );
    const lines = readLines(readFileSync(out, 'utf8'));
    expect(summary).toMatchObject({ mode: 'read', records: EVENTS, written: EVENTS, undecodable: 0 });
    expect(lines.map((l) => (l.value as { event_id: string }).event_id).sort()).toEqual(
      envelopes.map((e) => e.event.event_id).sort(),
    );
    for (const line of lines) {
      expect(line.topic).toBe(`aispm.${pipeline.tenant}.normalized`);
      expect(line.key).toBe((line.value as { session_id: string }).session_id);
      expect(line.headers['aispm-event-id']).toBe((line.value as { event_id: string }).event_id);
    }
    const byPartition = new Map<number, bigint[]>();
    for (const line of lines)
      byPartition.set(line.partition, [...(byPartition.get(line.partition) ?? []), BigInt(line.offset)]);
    for (const offsets of byPartition.values())
      expect(offsets).toEqual([...offsets].sort((a, b) => (a < b ? -1 : 1)));

    const audited = await eventually('the replay in the audit log', async () => {
      const rows = await auditRows('replay.read');
      return rows.length > 0 ? rows : undefined;
    });
    const detail = (JSON.parse(audited[0]!.record) as { detail: Record<string, unknown> }).detail;
    expect(audited[0]!.actor_kind).toBe('operator');
    expect(detail).toMatchObject({ stage: 'normalized', mode: 'read', via: 'cli', target: out });
  });

  it('honours --partition, --from-offset and --to-offset (inclusive), and writes to stdout by default', async () => {
    const ends = await endOffsets('raw');
    const [partition, end] = [...ends].find(([, high]) => high >= 2n)!;
    const run = spawnSync(
      process.execPath,
      [
        path.join(REPO, 'libs/cli/bin/aispm.js'),
        'replay',
        '--tenant',
        pipeline.tenant,
        '--stage',
        'raw',
        '--partition',
        String(partition),
        '--from-offset',
        '1',
        '--to-offset',
        String(end - 1n),
        '--key-file',
        auditorKeyFile,
        '--json',
      ],
      { env: pipeline.env, encoding: 'utf8' },
    );
    expect(run.status).toBe(0);
    const lines = readLines(run.stdout);
    expect(lines.map((l) => [l.partition, l.offset])).toEqual(
      Array.from({ length: Number(end) - 1 }, (_, i) => [partition, String(i + 1)]),
    );
    // The summary goes to stderr, so stdout is pure NDJSON.
    const summary = run.stderr
      .split('\n')
      .filter((line) => line.includes('"records"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(summary).toEqual([expect.objectContaining({ records: lines.length })]);
    expect((lines[0]!.value as unknown as Envelope).event.event_id).toMatch(/^evt_replay_/);
  });

  it('finds nothing from a time after the last record, and a dry run counts offsets without reading', async () => {
    const later = new Date(Date.now() + 60_000).toISOString();
    const fromLater = cli(
      [
        'replay',
        '--tenant',
        pipeline.tenant,
        '--stage',
        'normalized',
        '--from-time',
        later,
        '--out',
        path.join(dir, 'late.ndjson'),
      ],
      pipeline.env,
    );
    expect(fromLater).toMatchObject({ records: 0 });
    const dry = cli(
      ['replay', '--tenant', pipeline.tenant, '--stage', 'normalized', '--dry-run'],
      pipeline.env,
    );
    // Transform stages write in transactions: every batch also leaves a commit marker offset.
    expect(dry).toMatchObject({ mode: 'dry_run' });
    expect(Number(dry.offsets)).toBeGreaterThan(EVENTS);
    // The projector chains audit records into ClickHouse a moment after the CLI wrote them.
    await eventually('the dry run in the audit log', async () =>
      (await auditRows('replay.dry_run')).length > 0 ? true : undefined,
    );
  });

  it('replays the raw stage only with an auditor key of the tenant', async () => {
    expect(
      cliFails(['replay', '--tenant', pipeline.tenant, '--stage', 'raw', '--dry-run'], pipeline.env).stderr,
    ).toMatch(/raw stage needs an auditor key of tenant .*operator key/);
    const adminFile = path.join(dir, 'admin.key');
    writeFileSync(adminFile, adminKey);
    expect(
      cliFails(
        ['replay', '--tenant', pipeline.tenant, '--stage', 'raw', '--key-file', adminFile],
        pipeline.env,
      ).stderr,
    ).toMatch(/has the admin role/);
    const out = path.join(dir, 'raw.ndjson');
    cli(
      ['replay', '--tenant', pipeline.tenant, '--stage', 'raw', '--key-file', auditorKeyFile, '--out', out],
      pipeline.env,
    );
    expect(readLines(readFileSync(out, 'utf8'))).toHaveLength(EVENTS);
    const audited = await eventually('the raw replay in the audit log', async () => {
      const rows = (await auditRows('replay.read')).filter((row) => row.actor_kind === 'reader');
      return rows.length > 0 ? rows : undefined;
    });
    expect(JSON.parse(audited[0]!.record)).toMatchObject({ detail: { stage: 'raw', via: 'cli' } });
  });

  it('refuses wrong combinations as usage errors', () => {
    expect(
      cliFails(
        ['replay', '--tenant', pipeline.tenant, '--stage', 'redacted', '--rebuild', 'x_rebuild'],
        pipeline.env,
      ),
    ).toMatchObject({ status: 2 });
    expect(
      cliFails(['replay', '--tenant', pipeline.tenant, '--stage', 'normalized', '--reinject'], pipeline.env),
    ).toMatchObject({ status: 2 });
    expect(
      cliFails(
        ['replay', '--tenant', pipeline.tenant, '--stage', 'dlq', '--from-offset', '1', '--from-time', '1'],
        pipeline.env,
      ),
    ).toMatchObject({ status: 2 });
  });

  describe('the auditors API', () => {
    const get = (query: string, key: string) =>
      fetch(`${pipeline.apiUrl}/enterprise/aispm/replay-log?${query}`, {
        headers: { authorization: `Bearer ${key}` },
      });

    it('streams a stage of the caller tenant as NDJSON, and audits it', async () => {
      const response = await get('stage=normalized', auditorKey);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/application\/x-ndjson/);
      const lines = readLines(await response.text());
      expect(lines.map((l) => (l.value as { event_id: string }).event_id).sort()).toEqual(
        envelopes.map((e) => e.event.event_id).sort(),
      );
      const audited = await eventually('the API replay in the audit log', async () => {
        const rows = (await auditRows('replay.read')).filter((row) => row.record.includes('"via":"api"'));
        return rows.length > 0 ? rows : undefined;
      });
      expect(audited[0]!.actor_kind).toBe('reader');
    });

    it('answers a dry run with the offsets, paces with rate, and reads one partition from a time', async () => {
      const dry = await get('stage=raw&dry_run=true', auditorKey);
      expect(dry.status).toBe(200);
      expect(await dry.json()).toMatchObject({ stage: 'raw', offsets: EVENTS });
      const paced = await get('stage=raw&rate=1000&partition=0&from_time=2020-01-01T00:00:00Z', auditorKey);
      expect(paced.status).toBe(200);
      const lines = readLines(await paced.text());
      expect(lines.every((l) => l.partition === 0)).toBe(true);
      expect(lines).toHaveLength(Number((await endOffsets('raw')).get(0)));
    });

    it('reads through a group of its own, which is gone once the client goes away', async () => {
      const prefix = `${pipeline.env.AISPM_GROUP_PREFIX}-replay-`;
      const replayGroups = async () =>
        (await admin.listGroups()).groups.filter((group) => group.groupId.startsWith(prefix));
      const stop = new AbortController();
      // One record a second: the replay is still reading when the client hangs up.
      const response = await fetch(`${pipeline.apiUrl}/enterprise/aispm/replay-log?stage=raw&rate=1`, {
        headers: { authorization: `Bearer ${auditorKey}` },
        signal: stop.signal,
      });
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const first = await reader.read();
      expect(readLines(Buffer.from(first.value!).toString())[0]).toMatchObject({ stage: 'raw' });
      expect(await replayGroups()).toHaveLength(1);
      stop.abort();
      await eventually('the replay group deleted', async () =>
        (await replayGroups()).length === 0 ? true : undefined,
      );
    });

    it('refuses viewers, the raw stage to a tenant admin, operators, and bad queries', async () => {
      expect((await get('stage=normalized', viewerKey)).status).toBe(403);
      expect((await get('stage=raw', adminKey)).status).toBe(403);
      expect((await get('stage=normalized', pipeline.operatorKey)).status).toBe(403);
      expect((await get('stage=normalized', pipeline.apiKey)).status).toBe(403);
      const bad = await get('stage=normalized&from_offset=1&from_time=1', auditorKey);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ code: 'REPLAY_INVALID_REQUEST' });
      expect((await get('stage=events', auditorKey)).status).toBe(400);
      expect((await get('stage=raw', 'not-a-key-at-all-000')).status).toBe(401);
    });
  });

  it('reinjects raw events through the pipeline with nothing counted twice', async () => {
    const before = await endOffsets('raw');
    const summary = cli(
      ['replay', '--tenant', pipeline.tenant, '--stage', 'raw', '--reinject', '--key-file', auditorKeyFile],
      pipeline.env,
    );
    expect(summary).toMatchObject({ mode: 'reinject', records: EVENTS, written: EVENTS });
    // Every key's row now comes from its reinjected copy (a later raw offset) ...
    await eventually(
      'the reinjected copies projected',
      async () => {
        const rows = await ch.query<{ source_partition: number; source_offset: string }>(
          sql`SELECT source_partition, source_offset FROM ${eventsTable()} FINAL WHERE tenant = ${pipeline.tenant}`,
        );
        return rows.length === EVENTS &&
          rows.every((row) => BigInt(row.source_offset) >= before.get(Number(row.source_partition))!)
          ? true
          : undefined;
      },
      120_000,
    );
    // ... and each still counts once.
    expect(await countFinal()).toBe(EVENTS);
    const [keys] = await ch.query<{ n: string }>(
      sql`SELECT uniqExact(idempotency_key) AS n FROM ${eventsTable()} WHERE tenant = ${pipeline.tenant}`,
    );
    expect(Number(keys!.n)).toBe(EVENTS);
    expect(await auditRows('replay.reinject')).not.toHaveLength(0);
  });

  it('reinjects dead letters to the topic they failed on, with nothing counted twice', async () => {
    // A poison message becomes a real dead letter; a dead letter holding a valid envelope stands
    // for one that failed before a fix and now passes.
    const fixedEnvelope = envelope(EVENTS);
    const raw = tenantTopic(pipeline.tenant, 'raw');
    await producer.send({
      topic: raw,
      acks: -1,
      messages: [{ key: 'sess_poison', value: Buffer.from('not wire format') }],
    });
    const dead: DlqRecord = {
      schema_version: 'aispm.dlq_record.v1',
      service: 'redactor',
      code: 'STAGE_CORE_FAILED',
      message: 'failed before the fix',
      source: { topic: raw, partition: 0, offset: '0' },
      original_key: fixedEnvelope.event.session_id,
      // As the redactor dead-letters a raw value: the stored bytes, encrypted for the tenant.
      original_base64: (
        await new RawEncryptor(
          LocalKms.fromFile(String(pipeline.env.AISPM_KMS_MASTER_KEY_FILE), { create: false }),
        ).encrypt(pipeline.tenant, await codec.encode('envelope.v1', fixedEnvelope))
      ).toString('base64'),
      failed_ms: Date.now(),
    };
    await producer.send({
      topic: tenantTopic(pipeline.tenant, 'dlq'),
      acks: -1,
      messages: [{ key: fixedEnvelope.event.session_id, value: await codec.encode(TOPIC_SCHEMAS.dlq, dead) }],
    });
    const dlqEnd = await eventually('the poison message dead-lettered', async () => {
      const ends = await endOffsets('dlq');
      const total = [...ends.values()].reduce((a, b) => a + b, 0n);
      return total >= 2n ? ends : undefined;
    });
    for (let round = 0; round < 2; round += 1) {
      const summary = cli(
        ['replay', '--tenant', pipeline.tenant, '--stage', 'dlq', '--reinject'],
        pipeline.env,
      );
      expect(summary).toMatchObject({ mode: 'reinject' });
    }
    await eventually(
      'the fixed event projected',
      async () => ((await countFinal()) === EVENTS + 1 ? true : undefined),
      120_000,
    );
    const [copies] = await ch.query<{ n: string }>(
      sql`SELECT count() AS n FROM ${eventsTable()} FINAL WHERE tenant = ${pipeline.tenant} AND event_id = ${fixedEnvelope.event.event_id}`,
    );
    expect(Number(copies!.n)).toBe(1);
    // The poison message went back too, and failed again: a new dead letter, nothing projected.
    await eventually('the poison message dead-lettered again', async () => {
      const ends = await endOffsets('dlq');
      return [...ends].some(([p, high]) => high > dlqEnd.get(p)!) ? true : undefined;
    });
    expect(await countFinal()).toBe(EVENTS + 1);
  });

  it('rebuilds the projections in another database, equal to the live ones', async () => {
    const rebuild = `${pipeline.database}_rebuild`;
    const summary = cli(
      ['replay', '--tenant', pipeline.tenant, '--stage', 'normalized', '--rebuild', rebuild],
      pipeline.env,
    );
    expect(summary).toMatchObject({ mode: 'rebuild', database: rebuild, undecodable: 0 });
    // Every column but the projection time, which is when each copy was written.
    const columns = (
      await ch.query<{ name: string }>(
        sql`SELECT name FROM system.columns WHERE database = ${pipeline.database} AND table = 'events' AND name != 'projected_ms'`,
      )
    ).map((c) => c.name);
    const rows = (database: string) =>
      ch.query<Record<string, unknown>>(
        sql`SELECT ${joinSql(columns.map(name), ', ')} FROM ${name(database)}.events FINAL WHERE tenant = ${pipeline.tenant} ORDER BY idempotency_key`,
      );
    const live = await rows(pipeline.database);
    expect(live).toHaveLength(EVENTS + 1);
    expect(await rows(rebuild)).toEqual(live);
    expect(
      cliFails(
        ['replay', '--tenant', pipeline.tenant, '--stage', 'normalized', '--rebuild', pipeline.database],
        pipeline.env,
      ).status,
    ).toBe(2);
  });
});
