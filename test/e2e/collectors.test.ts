/**
 * The collectors against the real platform (DESIGN §16): the Claude Code, Cursor and GitHub
 * Copilot hook commands, Claude Code's http hooks posting to the gateway, `collect install`
 * plugging them into an agent's configuration, OTLP logs as JSON and protobuf, the MCP proxy in
 * front of a real MCP server on the official SDK, the GitHub Actions, GitLab CI and Azure
 * Pipelines steps authenticated by OIDC tokens of their own issuers on one gateway, and a gateway
 * outage survived by the spool.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import * as otlpRoot from '@opentelemetry/otlp-transformer/build/src/generated/root';
import { hubSignature } from '@aispm/auth';
import { name, sql, type Sql } from '@aispm/clickhouse';
import { TestIssuer, REQUEST_TOKEN } from '../support/oidc-issuer';
import {
  awaitReady,
  clickhouse,
  eventually,
  REPO,
  spawnService,
  startExtraGateway,
  startPipeline,
  stopProcess,
  type ExtraInstance,
  type Pipeline,
} from '../support/platform';
import { spawnTracked } from '../support/reaper';

jest.setTimeout(240_000);

const AISPM = path.join(REPO, 'libs/cli/bin/aispm.js');
const FIXTURES = path.join(REPO, 'test/fixtures/collectors');
const fixtureText = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');

let pipeline: Pipeline;
const ch = clickhouse();

beforeAll(async () => {
  pipeline = await startPipeline();
});

afterAll(async () => {
  await ch.close();
  await pipeline?.stop();
});

/** The environment of a collector command writing to this suite's tenant. */
function collectorEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: mkdtempSync(path.join(os.tmpdir(), 'aispm-home-')),
    AISPM_URL: pipeline.gatewayUrl,
    AISPM_COLLECTOR_KEY: pipeline.apiKey,
    AISPM_SIGNING_SECRET: pipeline.signingSecret,
    AISPM_TENANT_REF: pipeline.tenantRef,
    AISPM_SPOOL_DIR: mkdtempSync(path.join(os.tmpdir(), 'aispm-spool-')),
    // Sending is meant to succeed here; on a loaded machine it can take longer than the 3 s default.
    AISPM_COLLECTOR_TIMEOUT_MS: '20000',
    ...extra,
  };
}

/**
 * Runs the CLI without blocking this process, which serves the test issuer the CLI calls.
 */
function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawnTracked(process.execPath, [AISPM, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Rows of this suite's tenant, once `count` of them match `where`. */
async function rows(where: Sql, count: number): Promise<Record<string, unknown>[]> {
  const { query, params } = where.render();
  return eventually(`${count} events where ${query} ${JSON.stringify(params)}`, async () => {
    const found = await ch.query<Record<string, unknown>>(
      sql`SELECT event_id, connector_type, event_type, session_id, tool_name, action_type, target_summary, decision, agent_id, repository, environment
        FROM ${name(pipeline.database)}.events FINAL WHERE tenant = ${pipeline.tenant} AND ${where} ORDER BY occurred_ms, tool_name`,
    );
    return found.length >= count ? found : undefined;
  });
}

describe('Claude Code hooks', () => {
  const files = [
    'claude-code-user-prompt-submit.json',
    'claude-code-pre-tool-use-bash.json',
    'claude-code-pre-tool-use-mcp.json',
    'claude-code-permission-request.json',
    'claude-code-post-tool-use-write.json',
  ];

  it('turns hook JSON piped into `aispm collect claude-code` into events, printing nothing', async () => {
    const env = collectorEnv();
    for (const file of files) {
      const run = spawnSync(process.execPath, [AISPM, 'collect', 'claude-code'], {
        env,
        input: fixtureText(file),
        encoding: 'utf8',
      });
      expect([run.status, run.stdout]).toEqual([0, '']);
    }
    const found = await rows(sql`session_id = ${'abc123-session'}`, files.length);
    expect(found.map((row) => [row.event_type, row.tool_name, row.target_summary]).sort()).toEqual(
      [
        ['approval_event', 'Bash', 'program:rm'],
        ['file_action', 'Write', 'file:.github/workflows/ci.yml'],
        [
          'mcp_activity',
          'mcp__github__create_issue',
          'args:owner:string, repo:string, title:string, labels:array',
        ],
        ['prompt', '', 'prompt_length:28'],
        ['shell_command', 'Bash', 'program:curl'],
      ].sort(),
    );
    expect(JSON.stringify(found)).not.toMatch(/sk-secret|hunter2/);
    expect(readdirSync(env.AISPM_SPOOL_DIR!)).toEqual([]);
  });

  it('exits 0 and prints nothing when it cannot work at all', () => {
    const run = spawnSync(process.execPath, [AISPM, 'collect', 'claude-code'], {
      env: { PATH: process.env.PATH },
      input: 'not json',
      encoding: 'utf8',
    });
    expect([run.status, run.stdout]).toEqual([0, '']);
    expect(run.stderr).toContain('AISPM_TENANT_REF');
  });

  it('exits 0 on a wrong --agent too: exit code 2 would block the tool', () => {
    const run = spawnSync(process.execPath, [AISPM, 'collect', 'claude-code', '--agent', 'bogus'], {
      env: { PATH: process.env.PATH },
      input: '{}',
      encoding: 'utf8',
    });
    expect([run.status, run.stdout]).toEqual([0, '']);
    expect(run.stderr).toContain('--agent must be');
  });
});

describe('Cursor hooks', () => {
  // Each fixture with what `aispm collect cursor` must answer on stdout: an allow for the
  // permission hooks, `continue` for the prompt, nothing for the hooks that only report.
  const ALLOW = '{"permission":"allow"}\n';
  const hooks: [string, string][] = [
    ['cursor-before-submit-prompt.json', '{"continue":true}\n'],
    ['cursor-before-shell-execution.json', ALLOW],
    ['cursor-after-shell-execution.json', ''],
    ['cursor-before-mcp-execution.json', ALLOW],
    ['cursor-after-mcp-execution.json', ''],
    ['cursor-before-read-file.json', ALLOW],
    ['cursor-after-file-edit.json', ''],
    ['cursor-stop.json', ''],
  ];

  it('turns hook JSON piped into `aispm collect cursor` into cursor events, answering as Cursor documents', async () => {
    const env = collectorEnv();
    for (const [file, answer] of hooks) {
      const run = spawnSync(process.execPath, [AISPM, 'collect', 'cursor'], {
        env,
        input: fixtureText(file),
        encoding: 'utf8',
      });
      expect([file, run.status, run.stdout]).toEqual([file, 0, answer]);
    }
    const found = await rows(
      sql`connector_type = ${'cursor'} AND session_id = ${'c0ffee00-cursor-conversation'}`,
      hooks.length,
    );
    expect(
      found
        .map((row) => [
          row.connector_type,
          row.event_type,
          row.action_type,
          row.tool_name,
          row.target_summary,
        ])
        .sort(),
    ).toEqual(
      [
        ['cursor', 'prompt', 'user_prompt', '', 'prompt_length:28 attachments:1'],
        ['cursor', 'shell_command', 'before_shell_execution', 'Shell', 'program:curl'],
        ['cursor', 'shell_command', 'after_shell_execution', 'Shell', 'program:npm duration_ms:1234'],
        [
          'cursor',
          'mcp_activity',
          'before_mcp_execution',
          'github.create_issue',
          'args:owner:string, repo:string, title:string, labels:array',
        ],
        [
          'cursor',
          'mcp_activity',
          'after_mcp_execution',
          'database.query',
          'outcome:tool_error duration_ms:250 args:sql:string',
        ],
        ['cursor', 'file_action', 'before_read_file', 'Read', 'file:config/.env'],
        ['cursor', 'file_action', 'after_file_edit', 'Edit', 'file:src/main.ts edits:2'],
        ['cursor', 'model_response', 'agent_stop', '', 'status:completed loop_count:0'],
      ].sort(),
    );
    expect(found.every((row) => row.agent_id === 'cursor')).toBe(true);
    expect(JSON.stringify(found)).not.toMatch(/sk-secret|hunter2|dev@example\.com|SELECT/);
    expect(readdirSync(env.AISPM_SPOOL_DIR!)).toEqual([]);
  });

  it('still answers an allow, and exits 0, when it cannot send at all', () => {
    const run = spawnSync(process.execPath, [AISPM, 'collect', 'cursor'], {
      env: { PATH: process.env.PATH },
      input: fixtureText('cursor-before-shell-execution.json'),
      encoding: 'utf8',
    });
    expect([run.status, run.stdout]).toEqual([0, '{"permission":"allow"}\n']);
    expect(run.stderr).toContain('AISPM_TENANT_REF');
  });
});

describe('GitHub Copilot hooks', () => {
  // camelCase payloads name no event: the hook configuration passes it, as `collect install` writes.
  const camelCase: [string, string][] = [
    ['copilot-session-start.json', 'sessionStart'],
    ['copilot-user-prompt-submitted.json', 'userPromptSubmitted'],
    ['copilot-pre-tool-use.json', 'preToolUse'],
    ['copilot-post-tool-use.json', 'postToolUse'],
    ['copilot-error-occurred.json', 'errorOccurred'],
    ['copilot-session-end.json', 'sessionEnd'],
  ];
  const vsCode = ['copilot-pre-tool-use-vscode.json', 'copilot-post-tool-use-vscode.json'];

  it('turns both payload styles piped into `aispm collect copilot` into github_copilot events, printing nothing', async () => {
    const env = collectorEnv();
    const runs = [
      ...camelCase.map(([file, event]) => [file, ['--event', event]] as const),
      ...vsCode.map((file) => [file, []] as const),
    ];
    for (const [file, flags] of runs) {
      const run = spawnSync(process.execPath, [AISPM, 'collect', 'copilot', ...flags], {
        env,
        input: fixtureText(file),
        encoding: 'utf8',
      });
      expect([file, run.status, run.stdout]).toEqual([file, 0, '']);
    }
    const found = await rows(sql`connector_type = ${'github_copilot'}`, runs.length);
    expect(
      found.map((row) => [
        row.session_id,
        row.event_type,
        row.action_type,
        row.tool_name,
        row.target_summary,
      ]),
    ).toEqual([
      [
        '7f3e9a10-copilot-session',
        'evidence_event',
        'session_start',
        '',
        'source:new initial_prompt_length:28',
      ],
      ['7f3e9a10-copilot-session', 'prompt', 'user_prompt', '', 'prompt_length:45'],
      ['7f3e9a10-copilot-session', 'shell_command', 'pre_tool_use', 'bash', 'program:curl'],
      ['7f3e9a10-copilot-session', 'file_action', 'post_tool_use', 'edit', 'file:src/auth.ts result:success'],
      [
        '7f3e9a10-copilot-session',
        'evidence_event',
        'error_occurred',
        '',
        'error:TimeoutError context:tool_execution recoverable:false',
      ],
      ['7f3e9a10-copilot-session', 'evidence_event', 'session_end', '', 'reason:complete'],
      ['5b2c8d44-copilot-vscode-session', 'shell_command', 'pre_tool_use', 'Bash', 'program:git'],
      ['5b2c8d44-copilot-vscode-session', 'file_action', 'post_tool_use', 'Read', 'file:.env result:denied'],
    ]);
    expect(
      found.every((row) => row.connector_type === 'github_copilot' && row.agent_id === 'github-copilot'),
    ).toBe(true);
    expect(JSON.stringify(found)).not.toMatch(/sk-secret|hunter2|Network timeout|auth bug/);
    expect(readdirSync(env.AISPM_SPOOL_DIR!)).toEqual([]);
  });

  it('exits 0 and prints nothing when it cannot work at all, whatever --event says', () => {
    const run = spawnSync(process.execPath, [AISPM, 'collect', 'copilot', '--event', 'bogus'], {
      env: { PATH: process.env.PATH },
      input: 'not json',
      encoding: 'utf8',
    });
    expect([run.status, run.stdout]).toEqual([0, '']);
  });
});

describe('collect install', () => {
  /** Runs `aispm collect install` in `project` with `home` as the home directory. */
  const install = (project: string, home: string, ...args: string[]) =>
    spawnSync(process.execPath, [AISPM, 'collect', 'install', ...args], {
      cwd: project,
      env: { PATH: process.env.PATH, HOME: home },
      encoding: 'utf8',
    });

  it('adds one entry per hook however often it runs, and --uninstall leaves the file as it was', () => {
    const project = mkdtempSync(path.join(os.tmpdir(), 'aispm-project-'));
    const home = mkdtempSync(path.join(os.tmpdir(), 'aispm-home-'));
    const settings = path.join(project, '.claude/settings.json');
    const original =
      '{\n    "env": { "FOO": "bar" },\n    "hooks": { "Stop": [{ "hooks": [{ "type": "command", "command": "say done" }] }] }\n}';
    mkdirSync(path.dirname(settings));
    writeFileSync(settings, original);

    const first = install(project, home, '--agent', 'claude-code');
    expect([first.status, first.stdout]).toEqual([0, expect.stringContaining('+++ b/.claude/settings.json')]);
    const once = readFileSync(settings, 'utf8');
    expect(install(project, home, '--agent', 'claude-code').stdout).toContain('action: unchanged');
    expect(readFileSync(settings, 'utf8')).toBe(once);
    const hooks = (JSON.parse(once) as { hooks: Record<string, unknown[]> }).hooks;
    expect(Object.fromEntries(Object.entries(hooks).map(([event, list]) => [event, list.length]))).toEqual({
      Stop: 1,
      PreToolUse: 1,
      PostToolUse: 1,
      PermissionRequest: 1,
      UserPromptSubmit: 1,
    });
    expect(install(project, home, '--agent', 'claude-code', '--uninstall').status).toBe(0);
    expect(readFileSync(settings, 'utf8')).toBe(original);
  });

  it('writes Claude Code http hooks with --http, once however often it runs, and --uninstall takes them out', () => {
    const project = mkdtempSync(path.join(os.tmpdir(), 'aispm-project-'));
    const home = mkdtempSync(path.join(os.tmpdir(), 'aispm-home-'));
    const settings = path.join(project, '.claude/settings.json');
    const args = ['--agent', 'claude-code', '--http', '--url', 'https://aispm.example.com'];
    expect(install(project, home, ...args).status).toBe(0);
    const once = readFileSync(settings, 'utf8');
    expect(install(project, home, ...args).stdout).toContain('action: unchanged');
    const hooks = (JSON.parse(once) as { hooks: Record<string, { hooks: Record<string, unknown>[] }[]> })
      .hooks;
    expect(Object.values(hooks).map((list) => list.length)).toEqual([1, 1, 1, 1]);
    expect(hooks.PreToolUse![0]!.hooks[0]).toEqual({
      type: 'http',
      // Not a git checkout: the hook names no repository.
      url: 'https://aispm.example.com/enterprise/aispm/hooks/claude-code',
      headers: { Authorization: 'Bearer $AISPM_COLLECTOR_KEY' },
      allowedEnvVars: ['AISPM_COLLECTOR_KEY'],
      timeout: 10,
    });
    expect(install(project, home, '--agent', 'cursor', '--http').status).toBe(2);
    expect(install(project, home, ...args, '--uninstall').status).toBe(0);
    expect(existsSync(settings)).toBe(false);
  });

  it('creates the file it needs and --uninstall removes it, for a project and for a user', () => {
    const project = mkdtempSync(path.join(os.tmpdir(), 'aispm-project-'));
    const home = mkdtempSync(path.join(os.tmpdir(), 'aispm-home-'));
    for (const [args, file] of [
      [['--agent', 'cursor'], path.join(project, '.cursor/hooks.json')],
      [['--agent', 'copilot'], path.join(project, '.github/hooks/aispm.json')],
      [['--agent', 'copilot', '--scope', 'user'], path.join(home, '.copilot/hooks/aispm.json')],
    ] as const) {
      expect(install(project, home, ...args).status).toBe(0);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 1 });
      expect(install(project, home, ...args, '--uninstall').status).toBe(0);
      expect(existsSync(file)).toBe(false);
    }
    expect(readdirSync(project)).toEqual([]);
    expect(readdirSync(home)).toEqual([]);
  });
});

describe('OTLP logs', () => {
  type ProtobufType = {
    fromObject(value: unknown): unknown;
    encode(message: unknown): { finish(): Uint8Array };
    decode(bytes: Uint8Array): unknown;
  };
  const logs = (
    otlpRoot as unknown as {
      opentelemetry: { proto: { collector: { logs: { v1: Record<string, ProtobufType> } } } };
    }
  ).opentelemetry.proto.collector.logs.v1;
  let key: string;

  beforeAll(async () => {
    const created = await pipeline.admin('POST', '/collectors', { tenant: pipeline.tenant });
    key = String(created.body.api_key);
  });

  const post = (body: Uint8Array | string, contentType: string) =>
    fetch(`${pipeline.gatewayUrl}/v1/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': contentType },
      body,
    });

  it('maps a JSON body, then the same events as protobuf, to policy_decision and tool_call events', async () => {
    const json = await post(fixtureText('otlp-logs.json'), 'application/json');
    expect([json.status, await json.json()]).toEqual([200, {}]);
    const expected = [
      ['policy_decision', 'Bash', 'block', 'claude-code', 'production'],
      ['tool_call', 'Read', 'not_applicable', 'claude-code', 'production'],
      ['tool_call', 'write_file', 'allow', 'gemini-cli', 'dev'],
      ['policy_decision', 'shell', 'block', 'codex', 'dev'],
    ];
    const sessions = (suffix: string) =>
      sql`session_id IN (${`cc-session-1${suffix}`}, ${`gemini-session-7${suffix}`}, ${`0199a1b2-codex-session${suffix}`})`;
    const fromJson = await rows(sessions(''), 4);
    expect(fromJson.map((r) => [r.event_type, r.tool_name, r.decision, r.agent_id, r.environment])).toEqual(
      expected,
    );

    // The same records under other session ids, so they are new events, encoded with the
    // OpenTelemetry project's generated protobuf code.
    const renamed = JSON.parse(
      fixtureText('otlp-logs.json').replace(
        /(cc-session-1|gemini-session-7|0199a1b2-codex-session)/g,
        '$1-pb',
      ),
    );
    const bytes = logs
      .ExportLogsServiceRequest!.encode(logs.ExportLogsServiceRequest!.fromObject(renamed))
      .finish();
    const protobuf = await post(bytes, 'application/x-protobuf');
    expect(protobuf.status).toBe(200);
    expect(protobuf.headers.get('content-type')).toContain('application/x-protobuf');
    expect(logs.ExportLogsServiceResponse!.decode(new Uint8Array(await protobuf.arrayBuffer()))).toEqual(
      expect.objectContaining({}),
    );
    const fromProtobuf = await rows(sessions('-pb'), 4);
    expect(
      fromProtobuf.map((r) => [r.event_type, r.tool_name, r.decision, r.agent_id, r.environment]),
    ).toEqual(expected);
  });

  it('refuses a body that is not OTLP protobuf', async () => {
    const answer = await post(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 'application/x-protobuf');
    expect([answer.status, ((await answer.json()) as { code: string }).code]).toEqual([
      400,
      'GW_BAD_REQUEST',
    ]);
  });
});

/** An MCP client transport over a spawned process that keeps every byte it reads and writes. */
class RecordingTransport implements Transport {
  readonly received: Buffer[] = [];
  readonly sent: Buffer[] = [];
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private child: ChildProcess | undefined;
  private pending = '';

  constructor(
    private readonly argv: string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  async start(): Promise<void> {
    this.child = spawnTracked(process.execPath, this.argv, {
      env: this.env,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.received.push(chunk);
      const lines = (this.pending + chunk.toString('utf8')).split('\n');
      this.pending = lines.pop()!;
      for (const line of lines) if (line.trim()) this.onmessage?.(JSON.parse(line) as JSONRPCMessage);
    });
    this.child.on('exit', () => this.onclose?.());
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const bytes = Buffer.from(`${JSON.stringify(message)}\n`);
    this.sent.push(bytes);
    this.child!.stdin!.write(bytes);
  }

  async close(): Promise<void> {
    const child = this.child!;
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin!.end();
    child.kill('SIGTERM');
    await exited;
  }
}

describe('MCP proxy', () => {
  it('forwards every byte unchanged and reports each tools/call with its outcome', async () => {
    const tee = mkdtempSync(path.join(os.tmpdir(), 'aispm-mcp-'));
    const transport = new RecordingTransport(
      [
        AISPM,
        'collect',
        'mcp-proxy',
        '--server-name',
        'files',
        '--',
        process.execPath,
        path.join(REPO, 'test/support/mcp-server.js'),
      ],
      { ...collectorEnv(), NODE_PATH: path.join(REPO, 'node_modules'), MCP_TEE_DIR: tee },
    );
    const client = new Client({ name: 'e2e-client', version: '0.0.1' });
    await client.connect(transport);
    expect((await client.listTools()).tools.map((tool) => tool.name).sort()).toEqual(['echo', 'fail']);
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'héllo' } });
    expect(echoed.content).toEqual([{ type: 'text', text: 'echo: héllo ✓' }]);
    const failed = await client.callTool({ name: 'fail', arguments: { reason: 'on purpose' } });
    expect(failed.isError).toBe(true);
    const unknown = await client.callTool({ name: 'missing', arguments: {} }).catch((error: Error) => error);
    // The SDK reports an unknown tool as a JSON-RPC error or as an error result, by version.
    expect(unknown instanceof Error || (unknown as { isError?: boolean }).isError).toBeTruthy();
    await client.close();

    expect(Buffer.concat(transport.received).equals(readFileSync(path.join(tee, 'sent')))).toBe(true);
    expect(Buffer.concat(transport.sent).equals(readFileSync(path.join(tee, 'received')))).toBe(true);

    const found = await rows(sql`connector_type = ${'mcp_server'}`, 3);
    expect(
      found
        .map((r) => [r.event_type, r.tool_name, r.agent_id, String(r.target_summary).split(' ')[0]])
        .sort(),
    ).toEqual(
      [
        ['mcp_activity', 'files.echo', 'e2e-client', 'outcome=ok'],
        ['mcp_activity', 'files.fail', 'e2e-client', 'outcome=tool_error'],
        [
          'mcp_activity',
          'files.missing',
          'e2e-client',
          unknown instanceof Error ? 'outcome=protocol_error' : 'outcome=tool_error',
        ],
      ].sort(),
    );
    expect(JSON.stringify(found)).not.toContain('héllo');
  });
});

describe('GitHub Actions', () => {
  const issuer = new TestIssuer();
  let gateway: ExtraInstance;

  beforeAll(async () => {
    await issuer.start();
    const created = await pipeline.admin('POST', '/collectors', {
      tenant: pipeline.tenant,
      connector_types: ['github_actions'],
      repositories: ['acme/*'],
      environments: ['production'],
      // `sub` is unique to this suite, so no other suite's collector matches its tokens.
      oidc_claims: { sub: `repo:${pipeline.tenant}/*` },
    });
    expect(created.status).toBe(201);
    gateway = await startExtraGateway(pipeline, {
      AISPM_INSTANCE_ID: 'gateway-oidc',
      GATEWAY_OIDC_ISSUER: issuer.issuer,
      GATEWAY_OIDC_AUDIENCE: 'aispm',
      GATEWAY_OIDC_JWKS_URL: `${issuer.url}/jwks.json`,
    });
  });

  afterAll(async () => {
    await stopProcess(gateway.child);
    await issuer.stop();
  });

  async function step(repository: string, environment: string, runId: string) {
    issuer.claims = {
      sub: `repo:${pipeline.tenant}/app:environment:${environment}`,
      repository,
      environment,
    };
    const run = await runCli(
      ['collect', 'github-actions', '--json'],
      collectorEnv({
        AISPM_URL: gateway.url,
        AISPM_COLLECTOR_KEY: '',
        AISPM_SIGNING_SECRET: '',
        ACTIONS_ID_TOKEN_REQUEST_URL: `${issuer.url}/token?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
        GITHUB_REPOSITORY: repository,
        GITHUB_RUN_ID: runId,
        GITHUB_RUN_ATTEMPT: '1',
        GITHUB_JOB: 'deploy',
        GITHUB_WORKFLOW: 'Deploy',
        GITHUB_ACTOR: 'octocat',
        RUNNER_ENVIRONMENT: 'github-hosted',
      }),
    );
    expect([run.status, run.stderr]).toEqual([0, expect.not.stringContaining('failed;')]);
    return {
      ...(JSON.parse(run.stdout) as { events: number; delivered: number; pending: number }),
      stderr: run.stderr,
    };
  }

  it('sends a ci_runner_event authenticated by the job token, bound to its repository and environment', async () => {
    expect(await step('Acme/App', 'production', '501')).toMatchObject({
      events: 1,
      delivered: 1,
      pending: 0,
    });
    const [row] = await rows(sql`session_id = ${'gha-run-501-1'}`, 1);
    expect(row).toMatchObject({
      event_type: 'ci_runner_event',
      repository: 'acme/app',
      environment: 'production',
      tool_name: 'Deploy',
    });
  });

  it('holds events whose token names a repository or environment outside the scopes', async () => {
    for (const [repository, environment, run] of [
      ['other/app', 'production', '502'],
      ['acme/app', 'staging', '503'],
    ] as const) {
      const held = await step(repository, environment, run);
      expect(held).toMatchObject({ delivered: 0, pending: 1 });
      expect(held.stderr).toContain('GW_SCOPE_DENIED');
    }
  });
});

describe('GitLab CI and Azure Pipelines, beside GitHub Actions, on a gateway trusting several issuers', () => {
  // Issuers of this suite alone: the control topic is shared, and a collector bound to an issuer
  // is matched by tokens of that issuer only, so no other suite's collector can answer for them.
  let github: TestIssuer;
  let gitlab: TestIssuer;
  let azure: TestIssuer;
  let gateway: ExtraInstance;

  beforeAll(async () => {
    github = new TestIssuer(`https://token.actions.${pipeline.tenant}.example.test`);
    gitlab = new TestIssuer(`https://gitlab.${pipeline.tenant}.example.test`);
    azure = new TestIssuer(`https://vstoken.${pipeline.tenant}.example.test/61c028b9`);
    await Promise.all([github.start(), gitlab.start(), azure.start()]);
    // Created through the suite's gateway, which trusts no issuer and so stores each as named.
    for (const body of [
      {
        connector_types: ['gitlab_ci'],
        repositories: ['acme/*'],
        environments: ['production'],
        oidc_issuer: gitlab.issuer,
        oidc_claims: { project_path: '**' },
      },
      {
        connector_types: ['azure_pipelines'],
        repositories: ['app/*'],
        oidc_issuer: azure.issuer,
        oidc_claims: { sub: 'p://acme/**' },
      },
      {
        connector_types: ['github_actions'],
        oidc_issuer: github.issuer,
        // Not the GitHub Actions suite's `repo:<tenant>/*`, which the default issuer would match too.
        oidc_claims: { sub: `repo:${pipeline.tenant}-several/*` },
      },
    ]) {
      const created = await pipeline.admin('POST', '/collectors', { tenant: pipeline.tenant, ...body });
      expect([created.status, created.body.oidc_issuer]).toEqual([201, body.oidc_issuer]);
    }
    gateway = await startExtraGateway(pipeline, {
      AISPM_INSTANCE_ID: 'gateway-oidc-several',
      // The single-issuer keys still work, as one more entry beside the list.
      GATEWAY_OIDC_ISSUER: github.issuer,
      GATEWAY_OIDC_AUDIENCE: 'aispm',
      GATEWAY_OIDC_JWKS_URL: `${github.url}/jwks.json`,
      GATEWAY_OIDC_ISSUERS: JSON.stringify([
        { issuer: gitlab.issuer, audience: 'aispm', jwks_url: `${gitlab.url}/jwks.json` },
        { issuer: azure.issuer, audience: 'api://AzureADTokenExchange', jwks_url: `${azure.url}/jwks.json` },
      ]),
    });
  });

  afterAll(async () => {
    await stopProcess(gateway.child);
    await Promise.all([github.stop(), gitlab.stop(), azure.stop()]);
  });

  /** Runs `aispm collect <command> --json` as a CI job of this gateway, with the job's variables. */
  async function job(command: string[], variables: Record<string, string>) {
    const run = await runCli(
      ['collect', ...command, '--json'],
      collectorEnv({
        AISPM_URL: gateway.url,
        AISPM_COLLECTOR_KEY: '',
        AISPM_SIGNING_SECRET: '',
        ...variables,
      }),
    );
    expect([run.status, run.stderr]).toEqual([0, expect.not.stringContaining('failed;')]);
    return {
      ...(JSON.parse(run.stdout) as { events: number; delivered: number; pending: number }),
      stderr: run.stderr,
    };
  }

  /** A GitLab job of `projectPath`, its ID token in the variable the command reads by default. */
  const gitlabJob = (projectPath: string, environment: string, pipelineId: string, token = gitlab) =>
    job(['gitlab-ci'], {
      AISPM_ID_TOKEN: token.token('aispm', {
        sub: `project_path:${projectPath}:ref_type:branch:ref:main`,
        project_path: projectPath,
        namespace_path: projectPath.split('/')[0],
        ref: 'main',
        environment,
        runner_environment: 'gitlab-hosted',
      }),
      CI_PROJECT_PATH: projectPath,
      CI_PIPELINE_ID: pipelineId,
      CI_PIPELINE_SOURCE: 'push',
      CI_JOB_ID: `${pipelineId}1`,
      CI_JOB_NAME: 'deploy',
      CI_JOB_STAGE: 'release',
      CI_COMMIT_REF_NAME: 'main',
      CI_ENVIRONMENT_NAME: environment,
      GITLAB_USER_LOGIN: 'jdoe',
    });

  /** An Azure Pipelines job of project `tokenProject` that says it builds `project`'s repository `web`. */
  function azureJob(tokenProject: string, project: string, buildId: string, flags: string[] = []) {
    azure.claims = { sub: `p://acme/${tokenProject}/deploy`, run_id: buildId };
    return job(['azure-pipelines', ...flags], {
      SYSTEM_OIDCREQUESTURI: `${azure.url}/oidctoken`,
      SYSTEM_ACCESSTOKEN: REQUEST_TOKEN,
      SYSTEM_TEAMPROJECT: project,
      BUILD_BUILDID: buildId,
      BUILD_DEFINITIONNAME: 'deploy',
      BUILD_REASON: 'IndividualCI',
      BUILD_REPOSITORY_PROVIDER: 'TfsGit',
      BUILD_REPOSITORY_NAME: 'web',
      AGENT_ISSELFHOSTED: '0',
    });
  }

  it('sends each CI job as a ci_runner_event of its connector type, authenticated by its own issuer', async () => {
    expect(await gitlabJob('Acme/App', 'production', '701')).toMatchObject({
      events: 1,
      delivered: 1,
      pending: 0,
    });
    expect(await azureJob('App', 'App', '702')).toMatchObject({ events: 1, delivered: 1, pending: 0 });
    expect(azure.lastQuery.get('api-version')).toBe('7.1');
    github.claims = {
      sub: `repo:${pipeline.tenant}-several/app`,
      repository: 'acme/app',
      environment: 'production',
    };
    expect(
      await job(['github-actions'], {
        ACTIONS_ID_TOKEN_REQUEST_URL: `${github.url}/token?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
        GITHUB_REPOSITORY: 'acme/app',
        GITHUB_RUN_ID: '703',
        GITHUB_WORKFLOW: 'Deploy',
      }),
    ).toMatchObject({ delivered: 1 });
    const found = await rows(
      sql`session_id IN (${'gitlab-pipeline-701'}, ${'azp-build-702'}, ${'gha-run-703-1'})`,
      3,
    );
    expect(
      found.map((row) => [row.connector_type, row.event_type, row.repository, row.environment]).sort(),
    ).toEqual(
      [
        ['azure_pipelines', 'ci_runner_event', 'app/web', 'dev'],
        ['github_actions', 'ci_runner_event', 'acme/app', 'production'],
        ['gitlab_ci', 'ci_runner_event', 'acme/app', 'production'],
      ].sort(),
    );
  });

  it('asks Azure DevOps for a service connection token when told the connection', async () => {
    const sent = await azureJob('App', 'App', '704', [
      '--service-connection',
      '5f0e3f2a-1111-4e2b-9c3d-000000000001',
    ]);
    expect(sent).toMatchObject({ delivered: 1 });
    expect(azure.lastQuery.get('serviceConnectionId')).toBe('5f0e3f2a-1111-4e2b-9c3d-000000000001');
  });

  it('refuses a valid token for another project: 403 and held, or the event refused when only its repository is out of bounds', async () => {
    for (const held of [
      // A GitLab project outside the collector's repositories, and an environment outside its own.
      await gitlabJob('other/app', 'production', '711'),
      await gitlabJob('acme/app', 'staging', '712'),
    ]) {
      expect(held).toMatchObject({ delivered: 0, pending: 1 });
      expect(held.stderr).toContain('HTTP 403');
      expect(held.stderr).toContain('GW_SCOPE_DENIED');
    }
    // An Azure job of project Other that says it builds App's repository: the token is valid, but
    // the event names a repository the token does not bind, so that event is refused (and dropped:
    // sending it again cannot help), not the request.
    const refused = await azureJob('Other', 'App', '713');
    expect(refused).toMatchObject({ delivered: 0, refused: 1, pending: 0 });
    expect(refused.stderr).toContain('GW_SCOPE_DENIED');
    expect(refused.stderr).toContain('repository other/* only');
  });

  it("refuses (401) a token of one issuer shaped for another issuer's collector", async () => {
    // A valid GitLab token (GitLab's issuer and audience) whose subject is an Azure pipeline's,
    // passed as Azure's AzureCLI task passes one.
    const forged = gitlab.token('aispm', { sub: 'p://acme/App/deploy' });
    const held = await job(['azure-pipelines', '--token-env', 'idToken'], {
      idToken: forged,
      SYSTEM_TEAMPROJECT: 'App',
      BUILD_BUILDID: '721',
      BUILD_REPOSITORY_PROVIDER: 'TfsGit',
      BUILD_REPOSITORY_NAME: 'web',
    });
    expect(held).toMatchObject({ delivered: 0, pending: 1 });
    expect(held.stderr).toContain('HTTP 401');
    expect(held.stderr).toContain('GW_UNAUTHENTICATED');
  });
});

describe('Claude Code http hooks', () => {
  let key: string;
  const hook = (body: unknown, query = '?repository=acme%2Fapp', authorization = `Bearer ${key}`) =>
    fetch(`${pipeline.gatewayUrl}/enterprise/aispm/hooks/claude-code${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    // As Claude Code sends it: the key from the environment, no signature.
    const created = await pipeline.admin('POST', '/collectors', {
      tenant: pipeline.tenant,
      connector_types: ['claude_code'],
    });
    key = String(created.body.api_key);
  });

  it('stores the events of hook payloads posted as Claude Code posts them, answering 204 with no body', async () => {
    const files = [
      'claude-code-user-prompt-submit.json',
      'claude-code-pre-tool-use-bash.json',
      'claude-code-permission-request.json',
      'claude-code-post-tool-use-write.json',
    ];
    for (const file of files) {
      // A session of its own, so these are not the command hook suite's events again.
      const payload = { ...(JSON.parse(fixtureText(file)) as object), session_id: 'http-hook-session' };
      const answer = await hook(payload);
      expect([file, answer.status, await answer.text()]).toEqual([file, 204, '']);
    }
    const nothing = await hook({
      hook_event_name: 'SessionStart',
      session_id: 'http-hook-session',
      source: 'startup',
    });
    expect(nothing.status).toBe(204);
    const found = await rows(sql`session_id = ${'http-hook-session'}`, files.length);
    expect(found).toHaveLength(files.length);
    expect(
      found.map((row) => [row.connector_type, row.event_type, row.repository, row.target_summary]).sort(),
    ).toEqual(
      [
        ['claude_code', 'approval_event', 'acme/app', 'program:rm'],
        ['claude_code', 'file_action', 'acme/app', 'file:.github/workflows/ci.yml'],
        ['claude_code', 'prompt', 'acme/app', 'prompt_length:28'],
        ['claude_code', 'shell_command', 'acme/app', 'program:curl'],
      ].sort(),
    );
    expect(JSON.stringify(found)).not.toMatch(/sk-secret|hunter2/);
  });

  it('answers a request it refuses with a problem, which Claude Code takes as a non-blocking error', async () => {
    const payload = JSON.parse(fixtureText('claude-code-pre-tool-use-bash.json')) as object;
    const unauthenticated = await hook(payload, '', '');
    expect([unauthenticated.status, ((await unauthenticated.json()) as { code: string }).code]).toEqual([
      401,
      'GW_UNAUTHENTICATED',
    ]);
    // The suite's collector requires signatures, which Claude Code cannot make.
    const unsigned = await hook(payload, '', `Bearer ${pipeline.apiKey}`);
    expect([unsigned.status, ((await unsigned.json()) as { code: string }).code]).toEqual([
      401,
      'GW_SIGNATURE_INVALID',
    ]);
  });
});

describe('GitHub workflow_job webhook', () => {
  const deliver = (body: string, signature: string, event = 'workflow_job') =>
    fetch(`${pipeline.gatewayUrl}/enterprise/aispm/webhooks/github/${pipeline.collectorId}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': event,
        'x-hub-signature-256': signature,
      },
      body,
    });

  it('takes a delivery signed with the collector secret, and refuses a forged one', async () => {
    const body = fixtureText('github-workflow-job.json');
    const forged = await deliver(body, hubSignature('not-the-secret', body));
    expect([forged.status, ((await forged.json()) as { code: string }).code]).toEqual([
      401,
      'GW_SIGNATURE_INVALID',
    ]);
    const ping = await deliver('{"zen":"hi"}', hubSignature(pipeline.signingSecret, '{"zen":"hi"}'), 'ping');
    expect(ping.status).toBe(202);
    const answer = await deliver(body, hubSignature(pipeline.signingSecret, body));
    expect(answer.status).toBe(202);
    const [row] = await rows(sql`session_id = ${'gha-run-940463255-1'}`, 1);
    expect(row).toMatchObject({
      event_type: 'ci_runner_event',
      repository: 'acme/app',
      action_type: 'workflow_job.completed',
    });
  });
});

describe('Terraform plan', () => {
  it('sends each resource change of a plan as a cloud_iac_event', async () => {
    const run = spawnSync(
      process.execPath,
      [AISPM, 'collect', 'terraform-plan', path.join(FIXTURES, 'terraform-plan.json'), '--json'],
      {
        env: collectorEnv(),
        encoding: 'utf8',
      },
    );
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ events: 5, delivered: 5, refused: 0, pending: 0 });
    const found = await rows(sql`agent_id = ${'terraform'}`, 5);
    expect(found.map((r) => [r.event_type, r.target_summary, r.action_type]).sort()).toEqual(
      [
        ['cloud_iac_event', 'aws_s3_bucket.logs', 'create'],
        ['cloud_iac_event', 'aws_iam_role_policy.ci', 'update'],
        ['cloud_iac_event', 'aws_security_group.web', 'replace'],
        ['cloud_iac_event', 'aws_secretsmanager_secret.db', 'delete'],
        ['cloud_iac_event', 'aws_instance.old', 'forget'],
      ].sort(),
    );
  });
});

describe('gateway outage', () => {
  it('spools while the gateway is down and delivers every spooled event exactly once after it returns', async () => {
    const processes = pipeline.processes as Map<string, ChildProcess>;
    await stopProcess(processes.get('ingest-gateway')!);
    const env = collectorEnv({ AISPM_COLLECTOR_TIMEOUT_MS: '500' });
    const payloads = [1, 2, 3, 4].map((n) => ({
      session_id: 'outage-session',
      hook_event_name: 'PreToolUse',
      tool_name: 'Bash',
      tool_input: { command: `echo ${n}` },
      tool_use_id: `toolu_outage_${n}`,
      cwd: '/tmp',
    }));
    for (const payload of payloads.slice(0, 3)) {
      const run = spawnSync(process.execPath, [AISPM, 'collect', 'claude-code'], {
        env,
        input: JSON.stringify(payload),
        encoding: 'utf8',
      });
      expect([run.status, run.stdout]).toEqual([0, '']);
    }
    expect(readdirSync(env.AISPM_SPOOL_DIR!).filter((f) => f.endsWith('.json'))).toHaveLength(3);

    const restarted = spawnService('ingest-gateway', pipeline.env, Number(new URL(pipeline.gatewayUrl).port));
    processes.set('ingest-gateway', restarted.child);
    await awaitReady('restarted gateway', restarted.child, pipeline.gatewayUrl);

    // A second collector process holding a copy of the same spool sends it too.
    const copy = mkdtempSync(path.join(os.tmpdir(), 'aispm-spool-copy-'));
    cpSync(env.AISPM_SPOOL_DIR!, copy, { recursive: true });
    // Each run sends what its spool holds; a run that meets a gateway still warming up (503)
    // leaves the rest for the next run, as the next hook would.
    for (const [spool, first] of [
      [env.AISPM_SPOOL_DIR!, payloads[3]],
      [copy, {}],
    ] as const) {
      let payload: object = first!;
      await eventually(`the spool ${spool} to drain`, async () => {
        const run = spawnSync(process.execPath, [AISPM, 'collect', 'claude-code'], {
          env: { ...env, AISPM_SPOOL_DIR: spool, AISPM_COLLECTOR_TIMEOUT_MS: '5000' },
          input: JSON.stringify(payload),
          encoding: 'utf8',
        });
        payload = {};
        if (run.status !== 0 || run.stdout !== '')
          throw new Error(`collect failed: ${run.status} ${run.stdout}`);
        return readdirSync(spool).some((f) => f.endsWith('.json')) ? undefined : true;
      });
    }

    await rows(sql`session_id = ${'outage-session'}`, 4);
    const counts = await ch.query<{ event_id: string; copies: string }>(
      sql`SELECT event_id, count() AS copies FROM ${name(pipeline.database)}.events FINAL WHERE tenant = ${pipeline.tenant} AND session_id = ${'outage-session'} GROUP BY event_id`,
    );
    expect(counts).toHaveLength(4);
    expect(counts.every((row) => Number(row.copies) === 1)).toBe(true);
  });
});
