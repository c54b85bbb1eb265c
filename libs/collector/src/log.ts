/**
 * Owns how a collector speaks: one JSON line per message on stderr, never stdout. stdout belongs
 * to the observed tool (a hook's stdout is its decision, an MCP proxy's stdout is the protocol).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where a collector logs; tests pass their own. */
export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

/** A log writing JSON lines to stderr; a failed write is ignored, so logging cannot break the tool. */
export function stderrLog(minimum: LogLevel = 'warn'): Log {
  const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  return (level, message, fields = {}) => {
    if (rank[level] < rank[minimum]) return;
    try {
      process.stderr.write(
        `${JSON.stringify({ level, time: new Date().toISOString(), component: 'aispm-collector', msg: message, ...fields })}\n`,
      );
    } catch {
      // stderr closed: nothing left to tell.
    }
  };
}
