/**
 * Owns the mapping of Cursor agent hook payloads (`.cursor/hooks.json`, version 1) to drafts
 * (DESIGN §16), and the answer each hook must print so the agent goes on. Pure: the shell supplies
 * the repository (from the git remote of `workspace_roots[0]`) and the clock. `conversation_id`
 * is the session. Shell commands are described by their program, MCP calls by their argument keys
 * and types, files by their path; prompts by their length only, and never a file's content, a
 * command's output, an edit's text or the user's email.
 */
import { argumentSummary, type Draft, type EventFields } from '../envelope';
import { fileTarget, programTarget } from './hooks';

export interface CursorContext {
  /** `owner/name` of the git remote of the payload's first workspace root, when there is one. */
  readonly repository?: string;
  readonly now: string;
}

type Payload = Record<string, unknown>;

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/**
 * What a hook prints so the agent goes on, per Cursor's hooks reference: the permission hooks take
 * an explicit allow, `beforeSubmitPrompt` a `continue`; the hooks that only report (`after*`,
 * `stop`) need none. Never a deny: a collector only watches.
 */
const ANSWERS: Readonly<Record<string, string>> = {
  beforeShellExecution: '{"permission":"allow"}',
  beforeMCPExecution: '{"permission":"allow"}',
  beforeReadFile: '{"permission":"allow"}',
  beforeSubmitPrompt: '{"continue":true}',
};

/** The stdout line a hook payload must be answered with; undefined when it wants none. */
export function cursorAnswer(payload: unknown): string | undefined {
  if (!payload || typeof payload !== 'object') return undefined;
  const hook = String((payload as Payload).hook_event_name);
  // Own keys only: a hook named `constructor` must not find Object's.
  return Object.hasOwn(ANSWERS, hook) ? ANSWERS[hook] : undefined;
}

/** The first workspace root of a payload: where the repository and relative paths come from. */
export function cursorWorkspaceRoot(payload: unknown): string | undefined {
  const roots = payload && typeof payload === 'object' ? (payload as Payload).workspace_roots : undefined;
  return Array.isArray(roots) ? str(roots[0]) : undefined;
}

/** The object a JSON-string argument holds (Cursor sends MCP `tool_input` as text). */
function parsedArguments(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/** `outcome:tool_error` when an MCP result says `isError`, else `outcome:ok`. */
function mcpOutcome(resultJson: unknown): string {
  const result = parsedArguments(resultJson) as { isError?: unknown } | undefined;
  return `outcome:${result?.isError === true ? 'tool_error' : 'ok'}`;
}

const duration = (value: unknown): string => (typeof value === 'number' ? ` duration_ms:${value}` : '');

type Mapped = Omit<EventFields, 'event_id' | 'agent_id' | 'occurred_at' | 'session_id'>;

/** The event fields of each mapped hook; the rest say nothing about posture. */
const MAPPINGS: Readonly<Record<string, (p: Payload, root: string | undefined) => Mapped>> = {
  beforeShellExecution: (p) => ({
    event_type: 'shell_command',
    tool_name: 'Shell',
    action_type: 'before_shell_execution',
    target_summary: programTarget(str(p.command) ?? ''),
  }),
  afterShellExecution: (p) => ({
    event_type: 'shell_command',
    tool_name: 'Shell',
    action_type: 'after_shell_execution',
    target_summary: `${programTarget(str(p.command) ?? '')}${duration(p.duration)}`,
  }),
  beforeMCPExecution: (p) => ({
    event_type: 'mcp_activity',
    tool_name: mcpToolName(p),
    action_type: 'before_mcp_execution',
    target_summary: `args:${argumentSummary(parsedArguments(p.tool_input))}`.slice(0, 400),
  }),
  afterMCPExecution: (p) => ({
    event_type: 'mcp_activity',
    tool_name: mcpToolName(p),
    action_type: 'after_mcp_execution',
    target_summary:
      `${mcpOutcome(p.result_json)}${duration(p.duration)} args:${argumentSummary(parsedArguments(p.tool_input))}`.slice(
        0,
        400,
      ),
  }),
  beforeReadFile: (p, root) => ({
    event_type: 'file_action',
    tool_name: 'Read',
    action_type: 'before_read_file',
    target_summary: fileTarget(str(p.file_path) ?? 'unknown', root),
  }),
  afterFileEdit: (p, root) => ({
    event_type: 'file_action',
    tool_name: 'Edit',
    action_type: 'after_file_edit',
    target_summary: `${fileTarget(str(p.file_path) ?? 'unknown', root)} edits:${Array.isArray(p.edits) ? p.edits.length : 0}`,
  }),
  beforeSubmitPrompt: (p) => ({
    event_type: 'prompt',
    action_type: 'user_prompt',
    target_summary: `prompt_length:${(str(p.prompt) ?? '').length} attachments:${Array.isArray(p.attachments) ? p.attachments.length : 0}`,
  }),
  stop: (p) => ({
    event_type: 'model_response',
    action_type: 'agent_stop',
    target_summary: `status:${str(p.status) ?? 'unknown'} loop_count:${typeof p.loop_count === 'number' ? p.loop_count : 0}`,
  }),
};

/** `server.tool` when Cursor names the MCP server (the proxy's naming), else the tool alone. */
function mcpToolName(p: Payload): string {
  const tool = str(p.tool_name) ?? 'unknown';
  const server = str(p.mcp_server_name);
  return (server ? `${server}.${tool}` : tool).slice(0, 200);
}

/** The drafts of one Cursor hook payload; none for a hook that says nothing about posture. */
export function cursorDrafts(payload: unknown, context: CursorContext): Draft[] {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return [];
  const p = payload as Payload;
  const hook = str(p.hook_event_name) ?? '';
  const mapping = Object.hasOwn(MAPPINGS, hook) ? MAPPINGS[hook] : undefined;
  if (!mapping) return [];
  const sessionId = str(p.conversation_id) ?? 'unknown-session';
  const event = mapping(p, cursorWorkspaceRoot(p));
  const version = str(p.cursor_version);
  return [
    {
      connectorType: 'cursor',
      // Cursor's payloads carry no time and no id of their own: each hook run is one observation,
      // told apart by its generation, what it acted on and when it ran. Never the prompt's text.
      identity: {
        sessionId,
        generation: p.generation_id ?? null,
        hook,
        target: event.target_summary ?? null,
        tool: event.tool_name ?? null,
        at: context.now,
      },
      ...(version ? { runtimeVersion: `cursor ${version}` } : {}),
      event: {
        ...event,
        occurred_at: context.now,
        session_id: sessionId,
        agent_id: 'cursor',
        ...(context.repository ? { repository: context.repository } : {}),
      },
    },
  ];
}
