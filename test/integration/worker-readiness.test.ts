/**
 * A worker with no tenant topics to consume (a fresh platform) is still ready: readiness means
 * it listed its stage's topics and subscribed to all of them, even when there are none.
 */
import {
  awaitReady,
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
