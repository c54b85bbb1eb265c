/**
 * Zombie fencing (DESIGN §8, §15): two normalizer instances share a tenant of six partitions.
 * In the middle of a stream one of them is frozen (SIGSTOP) while it is at its work, and stays
 * frozen until the group has dropped it and handed its shards to the other, which processes
 * them; then it is thawed (SIGCONT) and wakes up with whatever transaction it had open. The
 * shard's new holder fenced its transactional id, so nothing the zombie had under way can
 * commit: every event is in the normalized topic exactly once, and `aispm verify` finds every
 * partition's chain unbroken. The servers are the shared ones; only this suite's processes
 * are stopped.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import {
  awaitReady,
  eventually,
  freePort,
  KAFKA_BROKERS,
  REPO,
  spawnService,
  startPipeline,
  stopProcess,
  type Pipeline,
} from '../support/platform';
import { acknowledgements, EventStream, normalizedCopies, projectedIds, settle } from './support/load';
import { Proof } from './support/proof';

jest.setTimeout(900_000);

const EVENTS = Number(process.env.AISPM_FAULTS_ZOMBIE_EVENTS ?? 600);
const proof = new Proof('zombie');
let pipeline: Pipeline;
let second: ChildProcess | undefined;

beforeAll(async () => {
  pipeline = await startPipeline({}, { tenantPartitions: 6 });
  const port = await freePort();
  const started = spawnService(
    'normalizer',
    { ...pipeline.env, AISPM_INSTANCE_ID: 'normalizer-1', AISPM_OPS_PORT: String(port) },
    port,
  );
  second = started.child;
  await awaitReady('the second normalizer', second, started.opsUrl);
});

afterAll(async () => {
  proof.write();
  pipeline?.processes.get('normalizer')?.kill('SIGCONT');
  if (second) await stopProcess(second);
  await pipeline?.stop();
});

/** The members of the normalizer's consumer group now. */
async function normalizerMembers(): Promise<number> {
  const admin = new Kafka({
    clientId: 'test-zombie',
    brokers: KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([`${pipeline.env.AISPM_GROUP_PREFIX}-normalizer`]);
    return groups[0]?.state === 'Stable' ? groups[0].members.length : -1;
  } finally {
    await admin.disconnect();
  }
}

it("lets no frozen normalizer commit work its shards' new holder did: no duplicate, chain unbroken", async () => {
  await eventually('both normalizers in the group', async () =>
    (await normalizerMembers()) === 2 ? true : undefined,
  );
  const zombie = pipeline.processes.get('normalizer')!;
  const stream = new EventStream(pipeline, { count: EVENTS, concurrency: 4 });
  const sending = stream.run();
  await acknowledgements(stream, sending, Math.floor(EVENTS / 3));
  const fault = proof.injected(
    'SIGSTOP of one of two normalizers mid-stream until the group moved its shards',
  );
  zombie.kill('SIGSTOP');
  // The session timeout (30 s) drops the frozen member; the other takes every shard.
  await eventually(
    'the group to drop the frozen normalizer',
    async () => ((await normalizerMembers()) === 1 ? true : undefined),
    120_000,
  );
  const afterMove = stream.acknowledged;
  await acknowledgements(stream, sending, Math.min(EVENTS, afterMove + Math.floor(EVENTS / 6)));
  const acked = stream.events.filter((e) => e.acknowledged).map((e) => e.id);
  await eventually(
    'the remaining normalizer to carry the stream',
    async () => {
      const projected = await projectedIds(pipeline);
      return acked.every((id) => projected.has(id)) ? true : undefined;
    },
    240_000,
  );
  zombie.kill('SIGCONT');
  await sending;
  const tally = await settle(pipeline, stream.events);
  proof.events(tally);
  expect(tally).toMatchObject({
    sent: EVENTS,
    acknowledged: EVENTS,
    projected: EVENTS,
    lost: 0,
    duplicated: 0,
  });

  const copies = await normalizedCopies([pipeline.tenant]);
  expect([...copies].filter(([, n]) => n > 1)).toEqual([]);
  expect(copies.size).toBe(EVENTS);

  const verdict = execFileSync(
    process.execPath,
    [path.join(REPO, 'libs/cli/bin/aispm.js'), 'verify', '--tenant', pipeline.tenant, '--json'],
    { env: pipeline.env, encoding: 'utf8' },
  );
  expect(JSON.parse(verdict)).toMatchObject({ holds: true });
  proof.survived(fault);
});
