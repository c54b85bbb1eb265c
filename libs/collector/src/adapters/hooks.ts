/**
 * Owns the mapping of agent hook payloads to drafts (DESIGN §16): Claude Code's command and http
 * hooks, Gemini CLI's BeforeTool / AfterTool / BeforeAgent hooks, Codex's hooks (Claude Code's
 * shape) and its `notify` program. Pure: the shell supplies the repository (from the git remote
 * of `cwd`) and the clock. Prompts are described by their length only, never their text, and tool
 * arguments by their keys and types, except the program of a shell command and a file's path.
 */
import path from 'node:path';
import { argumentSummary, isoTime, type ConnectorType, type Draft, type EventFields } from '../envelope';

export type HookAgent = Extract<ConnectorType, 'claude_code' | 'gemini_cli' | 'codex'>;

/** The gateway route Claude Code's `http` hooks post their payloads to (the same mapping, done there). */
export const CLAUDE_CODE_HOOK_PATH = '/enterprise/aispm/hooks/claude-code';

export interface HookContext {
  /** `owner/name` of the git remote of the payload's `cwd`, when there is one. */
  readonly repository?: string;
  readonly now: string;
  /** The agent, when the command was told; otherwise guessed from the payload's shape. */
  readonly agent?: HookAgent;
}

// Every hook agent's names: Claude Code's, Gemini CLI's, Codex's and GitHub Copilot's (whose
// camelCase hooks name tools `bash`, `view`, `edit`, …; its VS Code-style hooks use Claude's).
const SHELL_TOOLS = new Set([
  'Bash',
  'run_shell_command',
  'shell',
  'local_shell',
  'exec_command',
  'container.exec',
  'bash',
  'powershell',
]);
const FILE_TOOLS = new Set([
  'Write',
  'Edit',
  'MultiEdit',
  'Read',
  'NotebookEdit',
  'write_file',
  'replace',
  'read_file',
  'read_many_files',
  'apply_patch',
  'create',
  'edit',
  'view',
  'str_replace_editor',
]);
const TOOL_PHASES: Record<string, 'pre_tool_use' | 'post_tool_use'> = {
  PreToolUse: 'pre_tool_use',
  PostToolUse: 'post_tool_use',
  BeforeTool: 'pre_tool_use',
  AfterTool: 'post_tool_use',
};
const PROMPT_EVENTS = new Set(['UserPromptSubmit', 'BeforeAgent']);
const GEMINI_EVENTS = new Set([
  'BeforeTool',
  'AfterTool',
  'BeforeAgent',
  'AfterAgent',
  'BeforeModel',
  'AfterModel',
]);

const AGENT_IDS: Record<HookAgent, string> = {
  claude_code: 'claude-code',
  gemini_cli: 'gemini-cli',
  codex: 'codex',
};

type Payload = Record<string, unknown>;

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** The event type a tool's use is refined to. */
export function toolEventType(toolName: string): EventFields['event_type'] {
  if (SHELL_TOOLS.has(toolName)) return 'shell_command';
  if (FILE_TOOLS.has(toolName)) return 'file_action';
  if (toolName.startsWith('mcp__') || toolName.startsWith('mcp_')) return 'mcp_activity';
  return 'tool_call';
}

/** `program:<name>` of a command line: the program only, since its arguments may hold secrets. */
export function programTarget(command: string): string {
  const program = command.trim().split(/\s+/)[0] ?? '';
  return `program:${path.basename(program)}`.slice(0, 200);
}

/** `file:<path>`, relative to `root` when the file is inside it, else the file's name alone. */
export function fileTarget(file: string, root: string | undefined): string {
  const relative = root && path.isAbsolute(file) ? path.relative(root, file) : file;
  return `file:${relative.startsWith('..') ? path.basename(file) : relative}`.slice(0, 200);
}

/** A short, value-free description of what a tool is asked to do. */
export function targetOf(toolName: string, input: unknown, cwd: string | undefined): string {
  const args = (input && typeof input === 'object' ? input : {}) as Payload;
  if (SHELL_TOOLS.has(toolName)) {
    const command = Array.isArray(args.command)
      ? args.command.join(' ')
      : (str(args.command) ?? str(args.cmd) ?? '');
    return programTarget(command);
  }
  if (FILE_TOOLS.has(toolName)) {
    const file = str(args.file_path) ?? str(args.path) ?? str(args.notebook_path) ?? str(args.absolute_path);
    if (file) return fileTarget(file, cwd);
  }
  return `args:${argumentSummary(args)}`.slice(0, 400);
}

/** The agent a payload comes from. */
function agentOf(payload: Payload, context: HookContext): HookAgent {
  if (context.agent) return context.agent;
  if (payload.type === 'agent-turn-complete') return 'codex';
  if (GEMINI_EVENTS.has(String(payload.hook_event_name))) return 'gemini_cli';
  return 'claude_code';
}

/** The drafts of one hook payload; none for an event that says nothing about posture. */
export function hookDrafts(payload: unknown, context: HookContext): Draft[] {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return [];
  const p = payload as Payload;
  const agent = agentOf(p, context);
  const common = {
    agent_id: AGENT_IDS[agent],
    occurred_at: isoTime(p.timestamp) ?? context.now,
    ...(context.repository ? { repository: context.repository } : {}),
  };
  const hook = str(p.hook_event_name) ?? '';
  const sessionId = str(p.session_id) ?? 'unknown-session';
  const draft = (
    identity: unknown,
    event: Omit<EventFields, 'event_id' | 'agent_id' | 'occurred_at'>,
  ): Draft[] => [{ connectorType: agent, identity, event: { ...common, ...event } }];

  if (p.type === 'agent-turn-complete') {
    const thread = str(p['thread-id']) ?? 'unknown-thread';
    return draft(
      { thread, turn: p['turn-id'] ?? null, type: p.type },
      { event_type: 'model_response', session_id: thread, action_type: 'agent_turn_complete' },
    );
  }
  const phase = TOOL_PHASES[hook];
  if (phase) {
    const toolName = str(p.tool_name) ?? 'unknown';
    const toolUseId = str(p.tool_use_id);
    return draft(toolUseId ? { sessionId, hook, toolUseId } : p, {
      event_type: toolEventType(toolName),
      session_id: sessionId,
      tool_name: toolName,
      action_type: phase,
      target_summary: targetOf(toolName, p.tool_input, str(p.cwd)),
    });
  }
  if (PROMPT_EVENTS.has(hook)) {
    const prompt = str(p.prompt) ?? '';
    return draft(
      { sessionId, hook, at: common.occurred_at, length: prompt.length },
      {
        event_type: 'prompt',
        session_id: sessionId,
        action_type: 'user_prompt',
        target_summary: `prompt_length:${prompt.length}`,
      },
    );
  }
  if (hook === 'PermissionRequest') {
    const toolName = str(p.tool_name) ?? 'unknown';
    return draft(
      { sessionId, hook, toolName, input: p.tool_input ?? null, at: common.occurred_at },
      {
        event_type: 'approval_event',
        session_id: sessionId,
        tool_name: toolName,
        action_type: 'permission_request',
        decision: 'require_approval',
        target_summary: targetOf(toolName, p.tool_input, str(p.cwd)),
      },
    );
  }
  return [];
}
