/**
 * `aispm demo` (issue 21's trial run), run as a user runs it: the built CLI, pointed at this
 * suite's own pipeline the way the other suites point it (AISPM_URL, AISPM_API_URL and an operator
 * key in AISPM_ADMIN_KEY). It must leave a tenant with a signing collector and two readers, a posture the
 * viewer can read with blocks and several agents, and an auditor's replay packet on disk; run again
 * with the same --tenant it must make `<slug>-2` and leave the first tenant alone; and with no
 * platform it must say to run `npm run up`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli, freePort, REPO, startPipeline, type Pipeline } from '../support/platform';

jest.setTimeout(300_000);

interface DemoResult {
  tenant: string;
  requested_tenant: string;
  taken_tenants: string[];
  collector_id: string;
  collector_env_file: string;
  readers: {
    viewer: { reader_id: string; api_key: string };
    auditor: { reader_id: string; api_key: string };
  };
  console_url: string;
  sent: { events: number; accepted: number; refused: number; pending: number; decisions: number };
  projected: { total_decisions: number; complete: boolean };
  dashboard: { blocked_actions: number; agents: string[] };
  replay: { session_id: string; file: string; summary: { steps: number; blocks: number; approvals: number } };
  redaction?: { event_id: string; stored: string };
}

describe('aispm demo', () => {
  let pipeline: Pipeline;
  let env: NodeJS.ProcessEnv;
  let slug: string;
  let first: DemoResult;

  const demo = (out: string) =>
    cli(
      ['demo', '--tenant', slug, '--events', '60', '--duration', '3', '--out', out],
      env,
    ) as unknown as DemoResult;

  async function read(
    key: string,
    route: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${pipeline.apiUrl}/enterprise/aispm${route}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  beforeAll(async () => {
    pipeline = await startPipeline();
    // The suite's workers serve slugs that start with its tenant's.
    slug = `${pipeline.tenant}-demo`;
    env = { ...pipeline.env, AISPM_ADMIN_KEY: pipeline.operatorKey };
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  it('makes a tenant, a signing collector and two readers, and sends through the collectors', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'aispm-demo-test-'));
    first = demo(out);
    expect(first).toMatchObject({ tenant: slug, requested_tenant: slug, taken_tenants: [] });
    expect(first.console_url).toBe(`${pipeline.apiUrl}/console/`);
    expect(first.sent.events).toBeGreaterThan(100);
    expect(first.sent).toMatchObject({ accepted: first.sent.events, refused: 0, pending: 0 });
    expect(first.projected.complete).toBe(true);

    const shown = await pipeline.admin('GET', `/tenants/${slug}`);
    expect(shown.status).toBe(200);
    expect(shown.body.collectors).toEqual([
      expect.objectContaining({ collector_id: first.collector_id, require_signature: true, revoked: false }),
    ]);
    expect(shown.body.readers).toEqual(
      expect.arrayContaining([
        { reader_id: first.readers.viewer.reader_id, role: 'viewer', revoked: false },
        { reader_id: first.readers.auditor.reader_id, role: 'auditor', revoked: false },
      ]),
    );
    expect(shown.body.readers).toHaveLength(2);

    // The collector's credentials are kept for the user's own tools, readable by the user alone.
    expect(statSync(first.collector_env_file).mode & 0o777).toBe(0o600);
    expect(readFileSync(first.collector_env_file, 'utf8')).toContain(
      `AISPM_TENANT_REF=tenant:aispm-demo-${slug}`,
    );
  });

  it('leaves a posture the viewer key reads: decisions, blocks and several agents', async () => {
    const { status, body } = await read(first.readers.viewer.api_key, '/dashboard');
    expect(status).toBe(200);
    const overview = body.overview as Record<string, number>;
    expect(overview.total_decisions).toBeGreaterThan(0);
    expect(overview.total_decisions).toBe(first.sent.decisions);
    expect(overview.blocked_actions).toBeGreaterThan(0);
    expect(overview.approval_required_actions).toBeGreaterThan(0);
    expect((body.near_misses as unknown[]).length).toBeGreaterThan(0);
    const agents = (body.agents as { agent_id: string }[]).map((a) => a.agent_id);
    expect(agents.length).toBeGreaterThanOrEqual(5);
    expect(agents).toEqual(expect.arrayContaining(['claude-code', 'cursor', 'terraform', 'github-actions']));
    expect(new Set(agents)).toEqual(new Set(first.dashboard.agents));

    // The Terraform plan's fake access key id reached storage masked.
    expect(first.redaction?.stored).toContain('[REDACTED:aws_access_key_id]');
    expect(first.redaction?.stored).not.toMatch(/AKIA[A-Z2-7]{16}/);
  });

  it('writes the auditor replay packet of a session, the one the auditor key reads', async () => {
    const file = first.replay.file;
    expect(existsSync(file)).toBe(true);
    const packet = JSON.parse(readFileSync(file, 'utf8')) as {
      session_id: string;
      steps: { step: number; decision: string }[];
      summary: { steps: number; blocks: number; approvals: number };
    };
    expect(packet.session_id).toBe(first.replay.session_id);
    expect(packet.steps.length).toBeGreaterThan(0);
    expect(packet.summary.steps).toBe(packet.steps.length);
    expect(packet.steps.map((s) => s.step)).toEqual(packet.steps.map((_, i) => i + 1));
    expect(packet.summary.blocks).toBe(packet.steps.filter((s) => s.decision === 'block').length);
    expect(packet.summary.blocks).toBeGreaterThan(0);
    expect(packet.summary.approvals).toBeGreaterThan(0);
    expect(first.replay.summary).toEqual(packet.summary);

    const replay = `/replay/${encodeURIComponent(packet.session_id)}`;
    const asAuditor = await read(first.readers.auditor.api_key, replay);
    expect(asAuditor.status).toBe(200);
    expect(asAuditor.body).toEqual(packet);
    expect((await read(first.readers.viewer.api_key, replay)).status).toBe(403);
  });

  it('run again with the same --tenant, makes <slug>-2 and leaves the first tenant as it was', async () => {
    const before = await pipeline.admin('GET', `/tenants/${slug}`);
    const second = demo(mkdtempSync(path.join(os.tmpdir(), 'aispm-demo-test-')));
    expect(second).toMatchObject({ tenant: `${slug}-2`, requested_tenant: slug, taken_tenants: [slug] });
    expect(second.collector_id).not.toBe(first.collector_id);
    expect(await pipeline.admin('GET', `/tenants/${slug}`)).toEqual(before);
    const firstPosture = await read(first.readers.viewer.api_key, '/dashboard');
    expect((firstPosture.body.overview as Record<string, number>).total_decisions).toBe(first.sent.decisions);
    // Each tenant's reader sees its own tenant only.
    const secondPosture = await read(second.readers.viewer.api_key, '/dashboard');
    expect((secondPosture.body.overview as Record<string, number>).total_decisions).toBe(
      second.sent.decisions,
    );
    expect((await read(second.readers.auditor.api_key, `/replay/${first.replay.session_id}`)).status).toBe(
      404,
    );
  });

  it('fails with a clear message when no platform answers', async () => {
    const port = await freePort();
    const run = spawnSync(
      process.execPath,
      [path.join(REPO, 'libs/cli/bin/aispm.js'), 'demo', '--tenant', `${slug}-none`, '--json'],
      { env: { ...env, AISPM_URL: `http://127.0.0.1:${port}` }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`the platform is not reachable at http://127.0.0.1:${port}`);
    expect(run.stderr).toContain('npm run up');
    expect((await pipeline.admin('GET', `/tenants/${slug}-none`)).status).toBe(404);
  });
});
