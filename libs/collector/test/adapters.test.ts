import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TOPIC_SCHEMAS, validatorFor } from '@aispm/contracts';
import { compileProfile, redact } from '@aispm/redaction';
import {
  actionsStepDrafts,
  azureJobDrafts,
  azureRepository,
  buildEnvelope,
  copilotDrafts,
  copilotEventOf,
  cursorAnswer,
  cursorDrafts,
  cursorWorkspaceRoot,
  decisionOf,
  gitlabJobDrafts,
  hookDrafts,
  McpTracker,
  otlpDrafts,
  repositoryFromRemote,
  terraformDrafts,
  workflowJobDrafts,
  type Draft,
} from '../src';
import { fixture } from './fixtures';

const now = '2026-06-11T09:00:00.000Z';
const settings = {
  tenantRef: 'tenant:test',
  environment: 'dev' as const,
  connectorId: '',
  hostName: 'host-1',
  collectorVersion: 'test',
  signed: false,
};

/** Every draft must make a contract-valid envelope. */
function valid(drafts: Draft[]): Draft[] {
  const validate = validatorFor(TOPIC_SCHEMAS.raw);
  for (const draft of drafts) {
    const envelope = buildEnvelope(draft, settings);
    expect(validate(envelope) ? [] : validate.errors).toEqual([]);
  }
  return drafts;
}

describe('hook payloads', () => {
  it('maps a Claude Code PreToolUse of Bash to a shell_command naming the program only', () => {
    const [draft] = valid(
      hookDrafts(fixture('claude-code-pre-tool-use-bash.json'), { now, repository: 'acme/app' }),
    );
    expect(draft!.connectorType).toBe('claude_code');
    expect(draft!.event).toMatchObject({
      event_type: 'shell_command',
      session_id: 'abc123-session',
      tool_name: 'Bash',
      action_type: 'pre_tool_use',
      target_summary: 'program:curl',
      repository: 'acme/app',
      occurred_at: now,
    });
    expect(JSON.stringify(draft)).not.toContain('sk-secret');
  });

  it('maps Write to a file_action with the path relative to cwd, and mcp__ tools to mcp_activity', () => {
    const [write] = valid(hookDrafts(fixture('claude-code-post-tool-use-write.json'), { now }));
    expect(write!.event).toMatchObject({
      event_type: 'file_action',
      action_type: 'post_tool_use',
      target_summary: 'file:.github/workflows/ci.yml',
    });
    const [mcp] = valid(hookDrafts(fixture('claude-code-pre-tool-use-mcp.json'), { now }));
    expect(mcp!.event).toMatchObject({
      event_type: 'mcp_activity',
      tool_name: 'mcp__github__create_issue',
      target_summary: 'args:owner:string, repo:string, title:string, labels:array',
    });
  });

  it('maps UserPromptSubmit to a prompt carrying its length, never its text', () => {
    const drafts = valid(hookDrafts(fixture('claude-code-user-prompt-submit.json'), { now }));
    expect(drafts[0]!.event).toMatchObject({ event_type: 'prompt', target_summary: 'prompt_length:28' });
    expect(JSON.stringify(drafts)).not.toContain('hunter2');
  });

  it('maps PermissionRequest to an approval_event', () => {
    const [draft] = valid(hookDrafts(fixture('claude-code-permission-request.json'), { now }));
    expect(draft!.event).toMatchObject({
      event_type: 'approval_event',
      tool_name: 'Bash',
      decision: 'require_approval',
    });
  });

  it('maps Gemini CLI BeforeTool and BeforeAgent, using their timestamp', () => {
    const [tool] = valid(hookDrafts(fixture('gemini-cli-before-tool.json'), { now }));
    expect(tool!.connectorType).toBe('gemini_cli');
    expect(tool!.event).toMatchObject({
      event_type: 'shell_command',
      target_summary: 'program:git',
      occurred_at: '2026-06-11T08:00:00.000Z',
      agent_id: 'gemini-cli',
    });
    const [prompt] = valid(hookDrafts(fixture('gemini-cli-before-agent.json'), { now }));
    expect(prompt!.event).toMatchObject({ event_type: 'prompt', target_summary: 'prompt_length:25' });
  });

  it('maps Codex hooks (when told the agent) and its notify payload', () => {
    const [hook] = valid(hookDrafts(fixture('codex-pre-tool-use.json'), { now, agent: 'codex' }));
    expect(hook!.connectorType).toBe('codex');
    expect(hook!.event).toMatchObject({ event_type: 'shell_command', target_summary: 'program:npm' });
    const [notify] = valid(hookDrafts(fixture('codex-notify.json'), { now }));
    expect(notify!.event).toMatchObject({
      event_type: 'model_response',
      session_id: '0199a1b2-codex-session',
    });
    expect(JSON.stringify(notify)).not.toContain('Rename the function');
  });

  it('ignores events that say nothing about posture, and garbage', () => {
    expect(hookDrafts({ hook_event_name: 'Stop', session_id: 's' }, { now })).toEqual([]);
    expect(hookDrafts('not an object', { now })).toEqual([]);
  });

  it('gives one payload the same event id every time, and another payload another', () => {
    const payload = fixture('claude-code-pre-tool-use-bash.json');
    const a = buildEnvelope(hookDrafts(payload, { now })[0]!, settings);
    const b = buildEnvelope(hookDrafts(payload, { now: '2030-01-01T00:00:00Z' })[0]!, settings);
    const c = buildEnvelope(hookDrafts(fixture('claude-code-pre-tool-use-mcp.json'), { now })[0]!, settings);
    expect(a.event.event_id).toBe(b.event.event_id);
    expect(a.transport.idempotency_key).toBe(a.event.event_id);
    expect(c.event.event_id).not.toBe(a.event.event_id);
  });
});

describe('Cursor hooks', () => {
  const context = { now, repository: 'acme/app' };
  const ALLOW = '{"permission":"allow"}';

  it.each([
    [
      'cursor-before-shell-execution.json',
      {
        event_type: 'shell_command',
        tool_name: 'Shell',
        action_type: 'before_shell_execution',
        target_summary: 'program:curl',
      },
      ALLOW,
    ],
    [
      'cursor-after-shell-execution.json',
      {
        event_type: 'shell_command',
        tool_name: 'Shell',
        action_type: 'after_shell_execution',
        target_summary: 'program:npm duration_ms:1234',
      },
      undefined,
    ],
    [
      'cursor-before-mcp-execution.json',
      {
        event_type: 'mcp_activity',
        tool_name: 'github.create_issue',
        action_type: 'before_mcp_execution',
        target_summary: 'args:owner:string, repo:string, title:string, labels:array',
      },
      ALLOW,
    ],
    [
      'cursor-after-mcp-execution.json',
      {
        event_type: 'mcp_activity',
        tool_name: 'database.query',
        action_type: 'after_mcp_execution',
        target_summary: 'outcome:tool_error duration_ms:250 args:sql:string',
      },
      undefined,
    ],
    [
      'cursor-before-read-file.json',
      {
        event_type: 'file_action',
        tool_name: 'Read',
        action_type: 'before_read_file',
        target_summary: 'file:config/.env',
      },
      ALLOW,
    ],
    [
      'cursor-after-file-edit.json',
      {
        event_type: 'file_action',
        tool_name: 'Edit',
        action_type: 'after_file_edit',
        target_summary: 'file:src/main.ts edits:2',
      },
      undefined,
    ],
    [
      'cursor-before-submit-prompt.json',
      { event_type: 'prompt', action_type: 'user_prompt', target_summary: 'prompt_length:28 attachments:1' },
      '{"continue":true}',
    ],
    [
      'cursor-stop.json',
      {
        event_type: 'model_response',
        action_type: 'agent_stop',
        target_summary: 'status:completed loop_count:0',
      },
      undefined,
    ],
  ])('maps %s, and answers it as Cursor documents', (file, expected, answer) => {
    const payload = fixture(file);
    const drafts = valid(cursorDrafts(payload, context));
    expect(drafts).toHaveLength(1);
    expect(drafts[0]!.connectorType).toBe('cursor');
    expect(drafts[0]!.runtimeVersion).toBe('cursor 1.7.2');
    expect(drafts[0]!.event).toEqual({
      ...expected,
      session_id: 'c0ffee00-cursor-conversation',
      agent_id: 'cursor',
      repository: 'acme/app',
      occurred_at: now,
    });
    expect(cursorAnswer(payload)).toBe(answer);
    // Never a prompt, a file's content, a command's arguments or output, an edit, a query or the user.
    expect(JSON.stringify(drafts)).not.toMatch(/sk-secret|hunter2|dev@example\.com|SELECT|bar\(\)/);
  });

  it('takes the repository root from workspace_roots[0], and paths outside it by name', () => {
    const payload = fixture('cursor-after-file-edit.json') as Record<string, unknown>;
    expect(cursorWorkspaceRoot(payload)).toBe('/home/dev/app');
    const [outside] = cursorDrafts({ ...payload, file_path: '/etc/hosts' }, { now });
    expect(outside!.event.target_summary).toBe('file:hosts edits:2');
    expect(outside!.event.repository).toBeUndefined();
  });

  it('tells hook runs apart by when they ran, since Cursor payloads carry no time', () => {
    const payload = fixture('cursor-before-shell-execution.json');
    const id = (at: string) => buildEnvelope(cursorDrafts(payload, { now: at })[0]!, settings).event.event_id;
    expect(id(now)).toBe(id(now));
    expect(id(now)).not.toBe(id('2026-06-11T09:00:01.000Z'));
  });

  it('maps and answers nothing for other hooks and garbage, and never denies', () => {
    const other = { hook_event_name: 'afterAgentResponse', conversation_id: 'c', text: 'hi' };
    expect(cursorDrafts(other, { now })).toEqual([]);
    expect(cursorAnswer(other)).toBeUndefined();
    expect(cursorDrafts('not an object', { now })).toEqual([]);
    expect(cursorDrafts({ hook_event_name: 'constructor', prompt: 'hunter2' }, { now })).toEqual([]);
    expect(cursorAnswer({ hook_event_name: 'toString' })).toBeUndefined();
    expect(cursorAnswer(null)).toBeUndefined();
    const answers = [
      'beforeShellExecution',
      'beforeMCPExecution',
      'beforeReadFile',
      'beforeSubmitPrompt',
    ].map((hook) => cursorAnswer({ hook_event_name: hook }));
    expect(answers.join(' ')).not.toMatch(/deny|ask|false/);
  });
});

describe('GitHub Copilot hooks', () => {
  const context = { now, repository: 'acme/app' };
  const cli = { session_id: '7f3e9a10-copilot-session', agent_id: 'github-copilot', repository: 'acme/app' };
  const vscode = { ...cli, session_id: '5b2c8d44-copilot-vscode-session' };

  it.each([
    [
      'copilot-session-start.json',
      'sessionStart',
      {
        ...cli,
        event_type: 'evidence_event',
        action_type: 'session_start',
        target_summary: 'source:new initial_prompt_length:28',
        occurred_at: '2026-06-11T09:00:00.000Z',
      },
    ],
    [
      'copilot-user-prompt-submitted.json',
      'userPromptSubmitted',
      {
        ...cli,
        event_type: 'prompt',
        action_type: 'user_prompt',
        target_summary: 'prompt_length:45',
        occurred_at: '2026-06-11T09:00:01.000Z',
      },
    ],
    [
      'copilot-pre-tool-use.json',
      'preToolUse',
      {
        ...cli,
        event_type: 'shell_command',
        tool_name: 'bash',
        action_type: 'pre_tool_use',
        target_summary: 'program:curl',
        occurred_at: '2026-06-11T09:00:02.000Z',
      },
    ],
    [
      'copilot-post-tool-use.json',
      'postToolUse',
      {
        ...cli,
        event_type: 'file_action',
        tool_name: 'edit',
        action_type: 'post_tool_use',
        target_summary: 'file:src/auth.ts result:success',
        occurred_at: '2026-06-11T09:00:03.000Z',
      },
    ],
    [
      'copilot-error-occurred.json',
      'errorOccurred',
      {
        ...cli,
        event_type: 'evidence_event',
        action_type: 'error_occurred',
        target_summary: 'error:TimeoutError context:tool_execution recoverable:false',
        severity: 'medium',
        occurred_at: '2026-06-11T09:00:04.000Z',
      },
    ],
    [
      'copilot-session-end.json',
      'sessionEnd',
      {
        ...cli,
        event_type: 'evidence_event',
        action_type: 'session_end',
        target_summary: 'reason:complete',
        occurred_at: '2026-06-11T09:00:05.000Z',
      },
    ],
    [
      'copilot-pre-tool-use-vscode.json',
      'PreToolUse',
      {
        ...vscode,
        event_type: 'shell_command',
        tool_name: 'Bash',
        action_type: 'pre_tool_use',
        target_summary: 'program:git',
        occurred_at: '2026-06-11T09:00:06.000Z',
      },
    ],
    [
      'copilot-post-tool-use-vscode.json',
      'PostToolUse',
      {
        ...vscode,
        event_type: 'file_action',
        tool_name: 'Read',
        action_type: 'post_tool_use',
        target_summary: 'file:.env result:denied',
        occurred_at: '2026-06-11T09:00:07.000Z',
      },
    ],
  ])('maps %s, told its event (%s) or not', (file, event, expected) => {
    const payload = fixture(file);
    const told = valid(copilotDrafts(payload, { ...context, event }));
    expect(told).toHaveLength(1);
    expect(told[0]!.connectorType).toBe('github_copilot');
    expect(told[0]!.event).toEqual(expected);
    // Without --event the payload's hook_event_name, or for camelCase its shape, names the event.
    expect(copilotDrafts(payload, context)).toEqual(told);
    expect(JSON.stringify(told)).not.toMatch(/sk-secret|hunter2|Network timeout|auth bug|process\.env/);
  });

  it('reads the same event in both payload styles alike', () => {
    const camel = {
      sessionId: 's-1',
      timestamp: Date.parse(now),
      cwd: '/home/dev/app',
      toolName: 'view',
      toolArgs: '{"path":"/home/dev/app/README.md"}',
    };
    const snake = {
      hook_event_name: 'PreToolUse',
      session_id: 's-1',
      timestamp: now,
      cwd: '/home/dev/app',
      tool_name: 'view',
      tool_input: { path: '/home/dev/app/README.md' },
    };
    const [a] = valid(copilotDrafts(camel, { now: '2030-01-01T00:00:00.000Z', event: 'preToolUse' }));
    const [b] = valid(copilotDrafts(snake, { now: '2030-01-01T00:00:00.000Z' }));
    expect(a!.event).toEqual(b!.event);
    expect(a!.event).toMatchObject({
      event_type: 'file_action',
      target_summary: 'file:README.md',
      occurred_at: now,
    });
    expect(buildEnvelope(a!, settings).event.event_id).toBe(buildEnvelope(b!, settings).event.event_id);
  });

  it('names events by either spelling, and maps nothing it does not know', () => {
    expect(copilotEventOf({}, 'UserPromptSubmit')).toBe('userPromptSubmitted');
    expect(copilotEventOf({ toolName: 'bash' })).toBe('preToolUse');
    expect(copilotEventOf({ toolName: 'bash' }, 'agentStop')).toBeUndefined();
    expect(copilotEventOf({}, 'constructor')).toBeUndefined();
    expect(copilotDrafts(fixture('copilot-pre-tool-use.json'), { now, event: 'notification' })).toEqual([]);
    expect(copilotDrafts({ cwd: '/tmp' }, { now })).toEqual([]);
    expect(copilotDrafts([1, 2], { now })).toEqual([]);
  });

  it('survives an old payload without a session id and toolArgs that are not JSON', () => {
    const [draft] = valid(
      copilotDrafts(
        { timestamp: 1, cwd: '/x', toolName: 'bash', toolArgs: '{not json' },
        { now, event: 'preToolUse' },
      ),
    );
    expect(draft!.event).toMatchObject({ session_id: 'unknown-session', target_summary: 'program:' });
  });
});

it('makes event ids the default redaction profile leaves alone', () => {
  const envelope = buildEnvelope(
    hookDrafts(fixture('claude-code-pre-tool-use-bash.json'), { now })[0]!,
    settings,
  );
  expect(envelope.event.event_id).toMatch(
    /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  expect(redact(envelope, compileProfile({})).envelope.event.event_id).toBe(envelope.event.event_id);
});

describe('OTLP logs', () => {
  const drafts = valid(otlpDrafts(fixture('otlp-logs.json'), { now }));

  it('maps tool decisions and results of all three agents, skipping other events', () => {
    expect(
      drafts.map((d) => [d.connectorType, d.event.event_type, d.event.tool_name, d.event.decision]),
    ).toEqual([
      ['claude_code', 'policy_decision', 'Bash', 'block'],
      ['claude_code', 'tool_call', 'Read', undefined],
      ['gemini_cli', 'tool_call', 'write_file', 'allow'],
      ['codex', 'policy_decision', 'shell', 'block'],
    ]);
  });

  it('reads int64 as strings and as numbers, and times from timeUnixNano', () => {
    expect(drafts[0]!.event.occurred_at).toBe('2026-06-11T08:00:00.000Z');
    expect(drafts[1]!.event.target_summary).toBe('outcome=ok duration_ms=150');
    expect(drafts[2]!.event.occurred_at).toBe('2026-06-11T08:00:03.000Z');
    expect(drafts[2]!.event.target_summary).toBe(
      'outcome=error duration_ms=42 args=file_path:string, content:string',
    );
    expect(drafts[0]!.runtimeVersion).toBe('2.1.0');
  });

  it('matches decisions case-insensitively', () => {
    expect(['accept', 'APPROVED', 'approved_for_session', 'Auto_Accept'].map(decisionOf)).toEqual([
      'allow',
      'allow',
      'allow',
      'allow',
    ]);
    expect(['reject', 'Denied', 'ABORT'].map(decisionOf)).toEqual(['block', 'block', 'block']);
    expect(decisionOf('something new')).toBe('audit_only');
  });

  it("takes the environment from each record's resource", () => {
    expect(drafts.map((d) => d.environment)).toEqual(['production', 'production', undefined, undefined]);
  });

  it('survives a malformed request', () => {
    expect(otlpDrafts({ resourceLogs: 'nope' }, { now })).toEqual([]);
    expect(
      otlpDrafts(
        { resourceLogs: [{ scopeLogs: [{ logRecords: [null, 5, { attributes: 'x' }] }] }] },
        { now },
      ),
    ).toEqual([]);
  });
});

describe('MCP tracker', () => {
  it('emits one mcp_activity per tools/call with its outcome, matching ids per direction', () => {
    const tracker = new McpTracker('files', 'mcp-session', () => now);
    tracker.fromClient({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { clientInfo: { name: 'test-client' }, protocolVersion: '2025-06-18' },
    });
    expect(
      tracker.fromServer({
        jsonrpc: '2.0',
        id: 1,
        result: { serverInfo: { name: 'files-server', version: '1.0.0' } },
      }),
    ).toEqual([]);
    tracker.fromClient([
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'read', arguments: { path: '/etc/passwd' } },
      },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'boom', arguments: {} } },
      { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'missing' } },
    ]);
    // A server request reusing id 2 is not a response and settles nothing.
    expect(
      tracker.fromServer({ jsonrpc: '2.0', id: 2, method: 'sampling/createMessage', params: {} }),
    ).toEqual([]);
    const drafts = valid([
      ...tracker.fromServer({ jsonrpc: '2.0', id: 3, result: { content: [], isError: true } }),
      ...tracker.fromServer({
        jsonrpc: '2.0',
        id: 2,
        result: { content: [{ type: 'text', text: 'root:x' }] },
      }),
      ...tracker.fromServer({ jsonrpc: '2.0', id: 4, error: { code: -32602, message: 'unknown tool' } }),
    ]);
    expect(drafts.map((d) => [d.event.tool_name, d.event.target_summary, d.event.agent_id])).toEqual([
      ['files.boom', 'outcome=tool_error args=', 'test-client'],
      ['files.read', 'outcome=ok args=path:string', 'test-client'],
      ['files.missing', 'outcome=protocol_error args=', 'test-client'],
    ]);
    expect(drafts[0]!.runtimeVersion).toBe('files-server 1.0.0');
    expect(JSON.stringify(drafts)).not.toContain('passwd');
  });

  it('names the client from _meta when there is no handshake', () => {
    const tracker = new McpTracker('files', 's', () => now);
    tracker.fromClient({
      id: 'a',
      method: 'tools/call',
      params: { name: 't', _meta: { 'io.modelcontextprotocol/clientInfo': { name: 'stateless' } } },
    });
    expect(tracker.fromServer({ id: 'a', result: {} })[0]!.event.agent_id).toBe('stateless');
  });
});

describe('Terraform plan', () => {
  const planPath = path.resolve(__dirname, '../../../test/fixtures/collectors/terraform-plan.json');
  const bytes = readFileSync(planPath, 'utf8');
  const drafts = valid(
    terraformDrafts(JSON.parse(bytes), { now, planBytes: bytes, repository: 'acme/infra' }),
  );

  it('makes a cloud_iac_event per change, with severity raised for destructive actions and sensitive types', () => {
    expect(
      drafts.map((d) => [
        d.event.target_summary,
        d.event.action_type,
        d.event.severity,
        d.event.risk_classification,
      ]),
    ).toEqual([
      ['aws_s3_bucket.logs', 'create', 'low', undefined],
      ['aws_iam_role_policy.ci', 'update', 'high', 'iam_change'],
      ['aws_security_group.web', 'replace', 'critical', 'network_change'],
      ['aws_secretsmanager_secret.db', 'delete', 'critical', 'secret_change'],
      ['aws_instance.old', 'forget', 'high', undefined],
    ]);
    expect(drafts[0]!.event.occurred_at).toBe('2026-06-11T08:00:00.000Z');
    expect(new Set(drafts.map((d) => d.event.session_id)).size).toBe(1);
  });
});

describe('GitHub Actions', () => {
  it('maps a workflow_job delivery', () => {
    const [draft] = valid(workflowJobDrafts(fixture('github-workflow-job.json'), now));
    expect(draft!.event).toMatchObject({
      event_type: 'ci_runner_event',
      repository: 'acme/app',
      session_id: 'gha-run-940463255-1',
      action_type: 'workflow_job.completed',
      occurred_at: '2026-06-11T08:02:00.000Z',
      severity: 'medium',
      actor_ref: 'github:octocat',
    });
    expect(workflowJobDrafts({ zen: 'ping' }, now)).toEqual([]);
  });

  it('maps a step environment consistent with the OIDC claims of its job', () => {
    const claims = fixture('github-oidc-claims.json') as Record<string, string>;
    const [draft] = valid(
      actionsStepDrafts(
        {
          GITHUB_REPOSITORY: claims.repository,
          GITHUB_RUN_ID: '99',
          GITHUB_RUN_ATTEMPT: claims.run_attempt,
          GITHUB_JOB: 'deploy',
          GITHUB_ACTOR: claims.actor,
        },
        now,
      ),
    );
    expect(draft!.event).toMatchObject({
      repository: 'acme/app',
      session_id: 'gha-run-99-2',
      actor_ref: 'github:octocat',
    });
  });
});

describe('GitLab CI', () => {
  it('maps a job environment consistent with the ID token of its job', () => {
    const claims = fixture('gitlab-oidc-claims.json') as Record<string, string>;
    const [draft] = valid(
      gitlabJobDrafts(
        {
          CI_PROJECT_PATH: 'Acme/App',
          CI_PIPELINE_ID: claims.pipeline_id,
          CI_PIPELINE_NAME: 'Deploy',
          CI_PIPELINE_SOURCE: claims.pipeline_source,
          CI_JOB_ID: claims.job_id,
          CI_JOB_NAME: 'deploy',
          CI_JOB_STAGE: 'release',
          CI_COMMIT_REF_NAME: claims.ref,
          CI_COMMIT_SHA: claims.sha,
          CI_ENVIRONMENT_NAME: claims.environment,
          CI_RUNNER_EXECUTABLE_ARCH: 'linux/amd64',
          GITLAB_USER_LOGIN: claims.user_login,
        },
        now,
        claims.runner_environment,
      ),
    );
    expect(draft!.connectorType).toBe('gitlab_ci');
    expect(draft!.event).toMatchObject({
      event_type: 'ci_runner_event',
      repository: claims.project_path,
      session_id: 'gitlab-pipeline-574',
      agent_id: 'gitlab-ci',
      actor_ref: 'gitlab:jdoe',
      tool_name: 'Deploy',
      action_type: 'job_running:push',
      target_summary:
        'job=deploy stage=release ref=main environment=production runner=self-hosted/linux/amd64',
      severity: 'medium',
      occurred_at: now,
    });
    // Nothing of the user beyond the login, and never the token's e-mail claim.
    expect(JSON.stringify(draft)).not.toContain('jdoe@example.com');
  });

  it('maps a bare job on a GitLab-hosted runner, one event per job of a pipeline', () => {
    const [first] = valid(gitlabJobDrafts({ CI_PIPELINE_ID: '7', CI_JOB_ID: '1' }, now, 'gitlab-hosted'));
    const [second] = valid(gitlabJobDrafts({ CI_PIPELINE_ID: '7', CI_JOB_ID: '2' }, now, 'gitlab-hosted'));
    expect(first!.event).toMatchObject({
      tool_name: 'pipeline',
      severity: 'low',
      session_id: 'gitlab-pipeline-7',
    });
    expect(first!.event).not.toHaveProperty('repository');
    expect(buildEnvelope(first!, settings).event.event_id).not.toBe(
      buildEnvelope(second!, settings).event.event_id,
    );
  });
});

describe('Azure Pipelines', () => {
  const job = {
    SYSTEM_TEAMPROJECT: 'App',
    SYSTEM_JOBID: '12f1170f-54f2-53f3-20dd-22fc7dff55f9',
    SYSTEM_JOBATTEMPT: '2',
    SYSTEM_STAGENAME: 'Release',
    AGENT_JOBNAME: 'Deploy web',
    AGENT_OS: 'Linux',
    AGENT_ISSELFHOSTED: '0',
    BUILD_BUILDID: '981',
    BUILD_DEFINITIONNAME: 'deploy',
    BUILD_REASON: 'IndividualCI',
    BUILD_SOURCEBRANCH: 'refs/heads/main',
    BUILD_SOURCEVERSION: '714a629c0b401fdce83e847fc9589983fc6f46bc',
    BUILD_REQUESTEDFORID: 'e2b0a6a4-1f6e-4f7a-8d3e-6c1b2a9f0d77',
    BUILD_REPOSITORY_PROVIDER: 'TfsGit',
    BUILD_REPOSITORY_NAME: 'web',
    BUILD_REPOSITORY_URI: 'https://dev.azure.com/acme/App/_git/web',
    ENVIRONMENT_NAME: 'production',
  };

  it("maps a job environment consistent with its pipeline's OIDC token", () => {
    const claims = fixture('azure-oidc-claims.json') as Record<string, string>;
    const [draft] = valid(azureJobDrafts(job, now));
    expect(draft!.connectorType).toBe('azure_pipelines');
    expect(draft!.event).toMatchObject({
      event_type: 'ci_runner_event',
      // The token's project (p://acme/App/deploy) owns the repository, as the gateway binds it.
      repository: 'app/web',
      session_id: `azp-build-${claims.run_id}`,
      agent_id: 'azure-pipelines',
      actor_ref: 'azure-devops:e2b0a6a4-1f6e-4f7a-8d3e-6c1b2a9f0d77',
      tool_name: 'deploy',
      action_type: 'job_running:IndividualCI',
      target_summary:
        'job=Deploy web stage=Release ref=refs/heads/main environment=production runner=microsoft-hosted/Linux',
      severity: 'low',
    });
    expect(draft!.event.repository!.startsWith(`${claims.sub!.split('/')[3]!.toLowerCase()}/`)).toBe(true);
  });

  it('names repositories of every provider owner/name, and raises the severity on a self-hosted agent', () => {
    expect(azureRepository(job)).toBe('app/web');
    expect(azureRepository({ BUILD_REPOSITORY_PROVIDER: 'GitHub', BUILD_REPOSITORY_NAME: 'Acme/Web' })).toBe(
      'acme/web',
    );
    expect(
      azureRepository({
        BUILD_REPOSITORY_PROVIDER: 'Git',
        BUILD_REPOSITORY_URI: 'https://git.example.com/acme/web.git',
      }),
    ).toBe('acme/web');
    expect(azureRepository({})).toBeUndefined();
    const [selfHosted] = valid(azureJobDrafts({ BUILD_BUILDID: '5', AGENT_ISSELFHOSTED: '1' }, now));
    expect(selfHosted!.event).toMatchObject({
      severity: 'medium',
      tool_name: 'pipeline',
      session_id: 'azp-build-5',
    });
    expect(selfHosted!.event.target_summary).toContain('runner=self-hosted/');
  });

  it('tells attempts of one job apart, and repeats of one attempt not', () => {
    const id = (env: typeof job) => buildEnvelope(azureJobDrafts(env, now)[0]!, settings).event.event_id;
    expect(id(job)).toBe(id({ ...job }));
    expect(id(job)).not.toBe(id({ ...job, SYSTEM_JOBATTEMPT: '3' }));
  });
});

it('reads owner/name from git remotes', () => {
  expect(repositoryFromRemote('git@github.com:Acme/App.git')).toBe('acme/app');
  expect(repositoryFromRemote('https://github.com/acme/app')).toBe('acme/app');
  expect(repositoryFromRemote('ssh://git@host:22/acme/app.git/')).toBe('acme/app');
  expect(repositoryFromRemote('nonsense')).toBeUndefined();
});
