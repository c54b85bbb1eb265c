/**
 * Owns what the MCP proxy learns from the JSON-RPC messages it forwards (DESIGN §16): an
 * `mcp_activity` per `tools/call`, with the tool's name, its argument keys and types (never their
 * values), and the outcome from the response's `isError` or JSON-RPC error. Requests are matched
 * to responses by id in each direction separately, since client and server number their requests
 * independently. The client is named by the `initialize` handshake, or by the `_meta` of each
 * request in the stateless style of the 2026-07-28 revision, where no handshake happens.
 */
import { argumentSummary, type Draft } from '../envelope';

type Message = Record<string, unknown>;

interface PendingCall {
  readonly tool: string;
  readonly args: unknown;
  readonly at: string;
}

function idKey(id: unknown): string | undefined {
  return typeof id === 'string' || typeof id === 'number' ? JSON.stringify(id) : undefined;
}

/** The client's name from a `_meta` object, under any key that ends in `clientInfo`. */
function clientInfoOfMeta(meta: unknown): { name?: unknown } | undefined {
  if (!meta || typeof meta !== 'object') return undefined;
  const entry = Object.entries(meta).find(([key]) => key === 'clientInfo' || key.endsWith('/clientInfo'));
  return entry && entry[1] && typeof entry[1] === 'object' ? (entry[1] as { name?: unknown }) : undefined;
}

export class McpTracker {
  private clientName: string | undefined;
  private serverVersion: string | undefined;
  private readonly calls = new Map<string, PendingCall>();
  private readonly initializeIds = new Set<string>();

  constructor(
    private readonly serverName: string,
    private readonly sessionId: string,
    private readonly now: () => string,
  ) {}

  /** A message (or batch) the client sent to the server; returns no drafts (they come with responses). */
  fromClient(message: unknown): Draft[] {
    for (const item of Array.isArray(message) ? message : [message]) {
      if (!item || typeof item !== 'object') continue;
      const m = item as Message;
      const key = idKey(m.id);
      const params = (m.params && typeof m.params === 'object' ? m.params : {}) as Message;
      const info =
        m.method === 'initialize'
          ? (params.clientInfo as { name?: unknown } | undefined)
          : clientInfoOfMeta(params._meta);
      if (typeof info?.name === 'string') this.clientName = info.name;
      if (key === undefined) continue;
      if (m.method === 'initialize') this.initializeIds.add(key);
      if (m.method === 'tools/call') {
        this.calls.set(key, {
          tool: String(params.name ?? 'unknown'),
          args: params.arguments,
          at: this.now(),
        });
      }
    }
    return [];
  }

  /** A message (or batch) the server sent to the client; returns the drafts of finished tool calls. */
  fromServer(message: unknown): Draft[] {
    const drafts: Draft[] = [];
    for (const item of Array.isArray(message) ? message : [message]) {
      if (!item || typeof item !== 'object') continue;
      const m = item as Message;
      const key = idKey(m.id);
      // A request from the server (sampling, elicitation) has a method; only responses settle calls.
      if (key === undefined || m.method !== undefined) continue;
      if (this.initializeIds.delete(key)) {
        const info = (m.result as { serverInfo?: { name?: unknown; version?: unknown } } | undefined)
          ?.serverInfo;
        if (typeof info?.name === 'string')
          this.serverVersion = `${info.name} ${String(info.version ?? '')}`.trim();
        continue;
      }
      const call = this.calls.get(key);
      if (!call) continue;
      this.calls.delete(key);
      const outcome =
        m.error !== undefined
          ? 'protocol_error'
          : (m.result as { isError?: unknown } | undefined)?.isError === true
            ? 'tool_error'
            : 'ok';
      drafts.push({
        connectorType: 'mcp_server',
        identity: { session: this.sessionId, id: key, tool: call.tool },
        ...(this.serverVersion ? { runtimeVersion: this.serverVersion } : {}),
        event: {
          event_type: 'mcp_activity',
          occurred_at: call.at,
          session_id: this.sessionId,
          agent_id: this.clientName ?? 'mcp-client',
          tool_name: `${this.serverName}.${call.tool}`.slice(0, 200),
          action_type: 'tools/call',
          target_summary: `outcome=${outcome} args=${argumentSummary(call.args)}`.slice(0, 400),
          severity: outcome === 'ok' ? 'low' : 'medium',
        },
      });
    }
    return drafts;
  }
}

/**
 * Splits a byte stream into newline-delimited JSON messages (the stdio transport's framing);
 * a line that is not JSON is skipped, never fatal.
 */
export class LineDecoder {
  private buffer = '';

  push(chunk: Buffer | string): unknown[] {
    this.buffer += chunk.toString();
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop() ?? '';
    const messages: unknown[] = [];
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        messages.push(JSON.parse(line));
      } catch {
        // Not a protocol message (a server's stray print): forwarded unchanged, not interpreted.
      }
    }
    return messages;
  }
}
