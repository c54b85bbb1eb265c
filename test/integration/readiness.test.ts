/**
 * What `/readyz` promises. A worker with no tenant topics to consume (a fresh platform) is still
 * ready: readiness means it listed its stage's topics and subscribed to all of them, even when
 * there are none. The gateway and the API open their ops port before their public one, so a
 * start-up can be watched, and say ready only once the public port takes connections: a load
 * balancer, or an operator's script, sends requests as soon as they do.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  awaitReady,
  CLICKHOUSE_URL,
  freePort,
  KAFKA_BROKERS,
  SCHEMA_REGISTRY_URL,
  spawnService,
  stopProcess,
  uniqueSuffix,
} from '../support/platform';

jest.setTimeout(120_000);

it('a redactor with no tenants is ready, and stops cleanly on SIGTERM', async () => {
  const port = await freePort();
  const suffix = uniqueSuffix();
  const { child, opsUrl } = spawnService(
    'redactor',
    {
      ...process.env,
      AISPM_LOG_LEVEL: 'warn',
      AISPM_OPS_PORT: String(port),
      AISPM_GROUP_PREFIX: `test-${suffix}`,
      AISPM_TENANT_PATTERN: `^no-such-tenant-${suffix}$`,
      KAFKA_BROKERS,
      SCHEMA_REGISTRY_URL,
    },
    port,
  );
  try {
    // Inside the test's own timeout, so a worker that never gets ready is reported with its last
    // /readyz answer (or the connection error) rather than cut off by jest.
    await awaitReady('redactor', child, opsUrl, 90_000);
    const health = await fetch(`${opsUrl}/healthz`);
    expect(health.status).toBe(200);
  } finally {
    await stopProcess(child);
  }
  expect(child.exitCode).toBe(0);
});

/** How often /readyz is asked: far shorter than the time an app takes to build and listen. */
const POLL_MS = 10;

it.each([
  ['ingest-gateway', 'GATEWAY_PORT'],
  ['api', 'API_PORT'],
] as const)('%s is ready only once its public port takes connections', async (service, portVariable) => {
  const [port, opsPort] = [await freePort(), await freePort()];
  const suffix = uniqueSuffix();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aispm-readiness-'));
  const { child, opsUrl } = spawnService(
    service,
    {
      ...process.env,
      AISPM_LOG_LEVEL: 'warn',
      AISPM_OPS_PORT: String(opsPort),
      [portVariable]: String(port),
      AISPM_GROUP_PREFIX: `test-${suffix}`,
      AISPM_TENANT_PATTERN: `^no-such-tenant-${suffix}$`,
      AISPM_KMS_MASTER_KEY_FILE: path.join(dir, 'kms', 'master.key'),
      AISPM_OPERATOR_KEY_FILE: path.join(dir, 'operator.key'),
      KAFKA_BROKERS,
      SCHEMA_REGISTRY_URL,
      CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: `aispm_test_${suffix}`,
    },
    opsPort,
  );
  try {
    const reasons = await awaitReady(service, child, opsUrl, 90_000, POLL_MS);
    const answer = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (response) => response.status,
      (error: Error) =>
        `refused (${String(error.cause ?? error)}) after /readyz said: ${reasons.join(' / ')}`,
    );
    expect(answer).toBe(200);
  } finally {
    await stopProcess(child);
  }
});
