/**
 * The README's quickstart, run as written against the real platform, so the README cannot drift
 * from the product. The one change is the addresses of the gateway and the API: the suite's own
 * listen on ports of their own. The suite runs on a Kafka of its own, because the quickstart's tenant slug
 * and the example's tenant_ref are fixed names that a platform started with `npm run up` on the
 * shared servers may already hold.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, startPipeline, type Pipeline } from '../support/platform';
import { PrivateInfra } from '../support/private-infra';

jest.setTimeout(300_000);

const README_GATEWAY = 'http://127.0.0.1:8080';
const README_API = 'http://127.0.0.1:8090';

/** The shell lines between the README's quickstart markers. */
function quickstartScript(): string {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const block = /<!-- quickstart:begin -->\s*```sh\n([\s\S]*?)```\s*<!-- quickstart:end -->/.exec(readme);
  if (!block?.[1]) throw new Error('README.md has no quickstart block between its markers');
  return block[1];
}

describe('README quickstart', () => {
  let infra: PrivateInfra;
  let pipeline: Pipeline;

  beforeAll(async () => {
    infra = await PrivateInfra.start(['kafka']);
    // Every tenant: the Kafka is this suite's alone, and the quickstart names its own tenant.
    pipeline = await startPipeline({ KAFKA_BROKERS: infra.kafkaBrokers, AISPM_TENANT_PATTERN: '^' });
  });

  afterAll(async () => {
    await pipeline?.stop();
    await infra?.destroy();
  });

  it('sends the public example and reads it back, with the commands as the README writes them', () => {
    const script = quickstartScript();
    expect(script).toContain(README_GATEWAY);
    expect(script).toContain(README_API);
    const ours = script
      .replaceAll(README_GATEWAY, pipeline.gatewayUrl)
      .replaceAll(README_API, pipeline.apiUrl);
    const output = execFileSync('bash', ['-euo', 'pipefail', '-c', ours], {
      cwd: REPO,
      env: {
        ...pipeline.env,
        AISPM_SPOOL_DIR: mkdtempSync(path.join(os.tmpdir(), 'aispm-quickstart-spool-')),
      },
      encoding: 'utf8',
      timeout: 180_000,
    });
    expect(output).toMatch(/^accepted +evt_01jz_public_contract_sample aispm\.acme\.raw\/\d+@\d+$/m);
    const stored = JSON.parse(output.slice(output.lastIndexOf('\n{') + 1)) as Record<string, unknown>;
    expect(stored).toMatchObject({
      tenant: 'acme',
      event_id: 'evt_01jz_public_contract_sample',
      connector_type: 'codex',
      decision: 'require_approval',
      repository: 'example/repository',
    });
  });
});
