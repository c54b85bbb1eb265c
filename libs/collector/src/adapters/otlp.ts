/**
 * Owns the mapping of OTLP logs (an ExportLogsServiceRequest, as OTLP/JSON or as decoded
 * protobuf in the same lowerCamelCase shape) to drafts (DESIGN §16): Claude Code's
 * `claude_code.*`, Gemini CLI's `gemini_cli.*` and Codex's `codex.*` events. Parsed defensively:
 * the event name comes from `eventName`, the `event.name` attribute or the body; int64 values may
 * be strings or numbers; decisions match case-insensitively; unknown fields and events are
 * ignored. The event id digests the record's values, not its encoding, so the same record sent as
 * JSON and as protobuf is one event.
 */
import {
  argumentSummary,
  isoTime,
  repositoryFromRemote,
  type Draft,
  type Environment,
  type EventFields,
} from '../envelope';
import type { HookAgent } from './hooks';

type Json = Record<string, unknown>;

const PREFIXES: Record<string, HookAgent> = {
  'claude_code.': 'claude_code',
  'gemini_cli.': 'gemini_cli',
  'codex.': 'codex',
};
const AGENT_IDS: Record<HookAgent, string> = {
  claude_code: 'claude-code',
  gemini_cli: 'gemini-cli',
  codex: 'codex',
};
const ENVIRONMENTS = new Set<Environment>(['dev', 'test', 'staging', 'production', 'sandbox']);

const ALLOW = new Set([
  'accept',
  'accepted',
  'approved',
  'approved_for_session',
  'auto_accept',
  'allow',
  'allowed',
  'yes',
]);
const BLOCK = new Set(['reject', 'rejected', 'denied', 'deny', 'abort', 'block', 'blocked', 'no']);

/** The contract decision of a tool's decision value, matched case-insensitively. */
export function decisionOf(value: unknown): NonNullable<EventFields['decision']> {
  const normalized = String(value ?? '')
    .trim()
    .toLowerCase();
  if (ALLOW.has(normalized)) return 'allow';
  if (BLOCK.has(normalized)) return 'block';
  if (normalized === 'modify') return 'warn';
  return 'audit_only';
}

/** Either spelling of a field: OTLP/JSON is lowerCamelCase, but snake_case is seen in the wild. */
function field(object: unknown, camel: string, snake: string): unknown {
  if (!object || typeof object !== 'object') return undefined;
  const record = object as Json;
  return record[camel] ?? record[snake];
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** An int64 sent as a string or a number, as a number when it is safe, else its string. */
function int64(value: unknown): number | string | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) {
    const number = Number(value);
    return Number.isSafeInteger(number) ? number : value;
  }
  if (value && typeof value === 'object' && 'low' in value && 'high' in value) {
    // A protobufjs Long, when the decoder was not asked for strings.
    const { low, high } = value as { low: number; high: number };
    return high * 2 ** 32 + (low >>> 0);
  }
  return undefined;
}

/** The plain value of an OTLP AnyValue. */
export function anyValue(value: unknown): unknown {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Json;
  const string = field(v, 'stringValue', 'string_value');
  if (string !== undefined) return String(string);
  const bool = field(v, 'boolValue', 'bool_value');
  if (bool !== undefined) return Boolean(bool);
  const int = field(v, 'intValue', 'int_value');
  if (int !== undefined) return int64(int);
  const double = field(v, 'doubleValue', 'double_value');
  if (double !== undefined) return Number(double);
  const array = field(v, 'arrayValue', 'array_value');
  if (array !== undefined) return list(field(array, 'values', 'values')).map(anyValue);
  const kvlist = field(v, 'kvlistValue', 'kvlist_value');
  if (kvlist !== undefined) return attributes(field(kvlist, 'values', 'values'));
  return undefined;
}

/** OTLP KeyValue pairs as an object. */
export function attributes(pairs: unknown): Json {
  const out: Json = {};
  for (const pair of list(pairs)) {
    const key = field(pair, 'key', 'key');
    if (typeof key === 'string' && key !== '__proto__') out[key] = anyValue(field(pair, 'value', 'value'));
  }
  return out;
}

/** Nanoseconds since the epoch (string or number) as an ISO time. */
function nanosToIso(value: unknown): string | undefined {
  const nanos = int64(value);
  if (nanos === undefined || nanos === 0 || nanos === '0') return undefined;
  const ms = typeof nanos === 'string' ? Number(BigInt(nanos) / 1_000_000n) : Math.floor(nanos / 1e6);
  return isoTime(ms);
}

export interface OtlpContext {
  readonly now: string;
}

/** One OTLP record as the mapper sees it. */
interface LogRecord {
  readonly name: string;
  readonly agent: HookAgent;
  readonly attrs: Json;
  readonly resource: Json;
  readonly time: string | undefined;
}

function agentOfService(service: unknown): HookAgent | undefined {
  const name = String(service ?? '').toLowerCase();
  if (name.includes('claude')) return 'claude_code';
  if (name.includes('gemini')) return 'gemini_cli';
  if (name.includes('codex')) return 'codex';
  return undefined;
}

function recordsOf(request: unknown): LogRecord[] {
  const records: LogRecord[] = [];
  for (const resourceLogs of list(field(request, 'resourceLogs', 'resource_logs'))) {
    const resource = attributes(
      field(field(resourceLogs, 'resource', 'resource'), 'attributes', 'attributes'),
    );
    for (const scopeLogs of list(field(resourceLogs, 'scopeLogs', 'scope_logs'))) {
      for (const record of list(field(scopeLogs, 'logRecords', 'log_records'))) {
        const attrs = attributes(field(record, 'attributes', 'attributes'));
        const body = anyValue(field(record, 'body', 'body'));
        const candidates = [field(record, 'eventName', 'event_name'), attrs['event.name'], body];
        let name: string | undefined;
        let agent: HookAgent | undefined;
        for (const candidate of candidates) {
          if (typeof candidate !== 'string' || candidate === '') continue;
          const prefix = Object.keys(PREFIXES).find((p) => candidate.startsWith(p));
          if (prefix) {
            agent = PREFIXES[prefix];
            name = candidate.slice(prefix.length);
            break;
          }
          name ??= candidate;
        }
        agent ??= agentOfService(resource['service.name']);
        if (!name || !agent) continue;
        const time =
          nanosToIso(field(record, 'timeUnixNano', 'time_unix_nano')) ??
          isoTime(attrs['event.timestamp']) ??
          nanosToIso(field(record, 'observedTimeUnixNano', 'observed_time_unix_nano'));
        records.push({ name, agent, attrs, resource, time });
      }
    }
  }
  return records;
}

/** The environment a resource names (`deployment.environment[.name]`), if it is a contract one. */
function resourceEnvironment(resource: Json): Environment | undefined {
  const value = resource['deployment.environment.name'] ?? resource['deployment.environment'];
  return ENVIRONMENTS.has(value as Environment) ? (value as Environment) : undefined;
}

/** The drafts of an ExportLogsServiceRequest; records of other tools and events are skipped. */
export function otlpDrafts(request: unknown, context: OtlpContext): Draft[] {
  const drafts: Draft[] = [];
  for (const record of recordsOf(request)) {
    const { attrs, resource, agent } = record;
    const sessionId = String(
      attrs['session.id'] ?? attrs['conversation.id'] ?? attrs['prompt_id'] ?? 'unknown-session',
    );
    const toolName = String(attrs['tool_name'] ?? attrs['function_name'] ?? 'unknown');
    const remote = resource['vcs.repository.url.full'] ?? resource['repository'];
    const repository =
      typeof remote === 'string' ? (repositoryFromRemote(remote) ?? remote.toLowerCase()) : undefined;
    const base = {
      session_id: sessionId,
      agent_id: AGENT_IDS[agent],
      occurred_at: record.time ?? context.now,
      ...(repository ? { repository } : {}),
    };
    const identity = { name: `${agent}.${record.name}`, time: record.time ?? null, attrs };
    const version =
      typeof resource['service.version'] === 'string' ? { runtimeVersion: resource['service.version'] } : {};
    const environment = resourceEnvironment(resource);
    let event: Omit<EventFields, 'event_id'> | undefined;
    if (record.name === 'tool_decision') {
      event = {
        ...base,
        event_type: 'policy_decision',
        tool_name: toolName,
        action_type: `tool_decision${attrs.source ? `:${String(attrs.source).slice(0, 40)}` : ''}`,
        decision: decisionOf(attrs.decision),
      };
    } else if (record.name === 'tool_result' || record.name === 'tool_call') {
      const success = attrs.success;
      const failed = success === false || String(success).toLowerCase() === 'false';
      const duration = attrs.duration_ms;
      const args = typeof attrs.function_args === 'string' ? safeParse(attrs.function_args) : undefined;
      event = {
        ...base,
        event_type: 'tool_call',
        tool_name: toolName,
        action_type: record.name,
        target_summary: [
          `outcome=${failed ? 'error' : 'ok'}`,
          duration !== undefined ? `duration_ms=${String(duration)}` : '',
          args ? `args=${argumentSummary(args)}` : '',
        ]
          .filter(Boolean)
          .join(' ')
          .slice(0, 400),
        ...(attrs.decision !== undefined ? { decision: decisionOf(attrs.decision) } : {}),
        ...(failed ? { severity: 'medium' as const } : {}),
      };
    } else if (record.name === 'user_prompt') {
      event = {
        ...base,
        event_type: 'prompt',
        action_type: 'user_prompt',
        target_summary: `prompt_length:${String(attrs.prompt_length ?? 'unknown')}`,
      };
    }
    if (event)
      drafts.push({
        connectorType: agent,
        identity: { ...identity, attrs: withoutPrompt(attrs) },
        event,
        ...version,
        ...(environment ? { environment } : {}),
      });
  }
  return drafts;
}

/** Attributes less the prompt text (sent when OTEL_LOG_USER_PROMPTS is on), which is never kept. */
function withoutPrompt(attrs: Json): Json {
  const { prompt: _prompt, ...rest } = attrs;
  return rest;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
