/**
 * Owns the mapping of GitHub Copilot hook payloads (Copilot CLI and the cloud agent,
 * `.github/hooks/*.json`, version 1) to drafts (DESIGN §16). Both payload styles Copilot documents
 * are read: camelCase (`sessionId`, `toolName`, `toolArgs` as a JSON string, `timestamp` in ms),
 * which names no event, and the VS Code-compatible snake_case (`session_id`, `tool_name`,
 * `tool_input`, an ISO `timestamp`, `hook_event_name`). Pure: the shell supplies the repository
 * (from the git remote of `cwd`), the clock and the event it was configured for. Prompts are
 * described by their length only; tool arguments by their keys and types, except a shell
 * command's program and a file's path; errors by their name and context, never their message.
 */
import { isoTime, type Draft, type EventFields } from '../envelope';
import { targetOf, toolEventType } from './hooks';

/** The hook events mapped, by their camelCase configuration names. */
export const COPILOT_EVENTS = [
  'sessionStart',
  'sessionEnd',
  'userPromptSubmitted',
  'preToolUse',
  'postToolUse',
  'errorOccurred',
] as const;
export type CopilotEvent = (typeof COPILOT_EVENTS)[number];

/** The VS Code-compatible (PascalCase) name of each event, as `hook_event_name` carries it. */
const PASCAL_NAMES: Readonly<Record<string, CopilotEvent>> = {
  SessionStart: 'sessionStart',
  SessionEnd: 'sessionEnd',
  UserPromptSubmit: 'userPromptSubmitted',
  PreToolUse: 'preToolUse',
  PostToolUse: 'postToolUse',
  ErrorOccurred: 'errorOccurred',
};

export interface CopilotContext {
  /** `owner/name` of the git remote of the payload's `cwd`, when there is one. */
  readonly repository?: string;
  readonly now: string;
  /** The event the hook was configured for (`--event`), in either spelling; wins over the payload. */
  readonly event?: string;
}

type Payload = Record<string, unknown>;

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** Either spelling of a field. */
const field = (p: Payload, camel: string, snake: string): unknown => p[camel] ?? p[snake];

/** The event of a camelCase payload, which does not name it, from the fields only it carries. */
function eventOfShape(p: Payload): CopilotEvent | undefined {
  if (field(p, 'toolResult', 'tool_result') !== undefined) return 'postToolUse';
  if (field(p, 'toolName', 'tool_name') !== undefined) return 'preToolUse';
  if (p.error && typeof p.error === 'object') return 'errorOccurred';
  if (typeof p.prompt === 'string') return 'userPromptSubmitted';
  if (typeof p.reason === 'string') return 'sessionEnd';
  if (typeof p.source === 'string') return 'sessionStart';
  return undefined;
}

/** The event a payload reports: as configured, as named in the payload, or by its shape. */
export function copilotEventOf(payload: unknown, configured?: string): CopilotEvent | undefined {
  const p = (payload && typeof payload === 'object' ? payload : {}) as Payload;
  const named = configured ?? str(p.hook_event_name);
  if (named === undefined) return eventOfShape(p);
  if ((COPILOT_EVENTS as readonly string[]).includes(named)) return named as CopilotEvent;
  return Object.hasOwn(PASCAL_NAMES, named) ? PASCAL_NAMES[named] : undefined;
}

/** Tool arguments as an object: camelCase `toolArgs` is a JSON string, `tool_input` usually parsed. */
function toolArguments(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

const length = (value: unknown): number => (typeof value === 'string' ? value.length : 0);

type Mapped = Omit<EventFields, 'event_id' | 'agent_id' | 'occurred_at' | 'session_id'>;

function mapped(event: CopilotEvent, p: Payload): Mapped {
  const cwd = str(p.cwd);
  const toolName = str(field(p, 'toolName', 'tool_name')) ?? 'unknown';
  const args = toolArguments(field(p, 'toolArgs', 'tool_input'));
  switch (event) {
    case 'sessionStart': {
      const initial = field(p, 'initialPrompt', 'initial_prompt');
      return {
        event_type: 'evidence_event',
        action_type: 'session_start',
        target_summary: `source:${str(p.source) ?? 'unknown'}${initial === undefined ? '' : ` initial_prompt_length:${length(initial)}`}`,
      };
    }
    case 'sessionEnd':
      return {
        event_type: 'evidence_event',
        action_type: 'session_end',
        target_summary: `reason:${str(p.reason) ?? 'unknown'}`,
      };
    case 'userPromptSubmitted':
      return {
        event_type: 'prompt',
        action_type: 'user_prompt',
        target_summary: `prompt_length:${length(p.prompt)}`,
      };
    case 'preToolUse':
      return {
        event_type: toolEventType(toolName),
        tool_name: toolName,
        action_type: 'pre_tool_use',
        target_summary: targetOf(toolName, args, cwd),
      };
    case 'postToolUse': {
      const result = field(p, 'toolResult', 'tool_result') as Payload | undefined;
      const resultType = str(result?.resultType ?? result?.result_type);
      return {
        event_type: toolEventType(toolName),
        tool_name: toolName,
        action_type: 'post_tool_use',
        target_summary: `${targetOf(toolName, args, cwd)}${resultType ? ` result:${resultType}` : ''}`.slice(
          0,
          400,
        ),
      };
    }
    case 'errorOccurred': {
      const error = (p.error && typeof p.error === 'object' ? p.error : {}) as Payload;
      const recoverable = p.recoverable;
      return {
        event_type: 'evidence_event',
        action_type: 'error_occurred',
        // The error's name and where it happened: its message and stack may quote code or secrets.
        target_summary:
          `error:${str(error.name) ?? 'Error'} context:${str(field(p, 'errorContext', 'error_context')) ?? 'unknown'} recoverable:${recoverable === true}`.slice(
            0,
            400,
          ),
        severity: recoverable === false ? 'medium' : 'low',
      };
    }
  }
}

/** The drafts of one Copilot hook payload; none for an event that is not mapped. */
export function copilotDrafts(payload: unknown, context: CopilotContext): Draft[] {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return [];
  const p = payload as Payload;
  const event = copilotEventOf(p, context.event);
  if (!event) return [];
  const sessionId = str(field(p, 'sessionId', 'session_id')) ?? 'unknown-session';
  const occurredAt = isoTime(p.timestamp) ?? context.now;
  const fields = mapped(event, p);
  return [
    {
      connectorType: 'github_copilot',
      // The payload's own time tells runs apart; the target is value-free, so no prompt text or
      // argument value is digested into the id.
      identity: {
        sessionId,
        event,
        at: occurredAt,
        tool: fields.tool_name ?? null,
        target: fields.target_summary ?? null,
      },
      event: {
        ...fields,
        occurred_at: occurredAt,
        session_id: sessionId,
        agent_id: 'github-copilot',
        ...(context.repository ? { repository: context.repository } : {}),
      },
    },
  ];
}
