/**
 * Owns `aispm send`, the `curl` of the platform: envelopes from a file or stdin go through the
 * collector SDK (spool, signed batches, retries) exactly as a collector's would, and each item's
 * receipt is printed. Unlike the `collect` commands it does not fail open: a person or a script
 * is waiting for the answer, so an item that was not delivered makes the exit code non-zero.
 */
import { readFileSync } from 'node:fs';
import type { Envelope } from '@aispm/contracts';
import type { ErrorCode } from '@aispm/errors';
import { collectorFromConfig, loadSenderConfig, stderrLog, type ReceiptsByFile } from '@aispm/collector';
import { UsageError, type Command } from './command';

/** One item of the input: an envelope to send, or why the line could not be one. */
export type InputItem =
  { readonly line: number; readonly envelope: Envelope } | { readonly line: number; readonly error: string };

/** What `send` prints for one item. */
export interface SendReceipt {
  readonly item: number;
  readonly line: number;
  readonly event_id: string | null;
  readonly outcome: 'accepted' | 'duplicate' | 'rejected' | 'invalid' | 'pending';
  readonly code?: string;
  readonly reason?: string;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string;
}

/** The receipt code of an input item that is not an envelope (docs/errors.md). */
const BAD_INPUT: ErrorCode = 'CLI_BAD_INPUT';

function asItem(value: unknown, line: number): InputItem {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? { line, envelope: value as Envelope }
    : { line, error: 'an item must be a JSON object (an envelope)' };
}

/**
 * The items of `text`: one envelope, a JSON array of envelopes, or NDJSON (one per line, blank
 * lines skipped). A line that is not JSON is an item of its own with an error, so one bad line
 * costs only itself.
 */
export function parseSendInput(text: string): InputItem[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  try {
    const whole = JSON.parse(trimmed) as unknown;
    return Array.isArray(whole) ? whole.map((value) => asItem(value, 1)) : [asItem(whole, 1)];
  } catch {
    // Not one JSON document: read it as NDJSON.
  }
  return text.split('\n').flatMap((raw, index) => {
    if (raw.trim() === '') return [];
    try {
      return [asItem(JSON.parse(raw) as unknown, index + 1)];
    } catch (error) {
      return [{ line: index + 1, error: `not JSON: ${(error as Error).message}` }];
    }
  });
}

function eventIdOf(envelope: Envelope): string | null {
  const id = (envelope as { event?: { event_id?: unknown } }).event?.event_id;
  return typeof id === 'string' ? id : null;
}

/** Joins the input with what the gateway answered, by spool file. */
export function receiptsFor(
  items: readonly InputItem[],
  files: readonly (string | undefined)[],
  settled: ReceiptsByFile,
  heldBecause: string | undefined,
): SendReceipt[] {
  return items.map((item, index) => {
    const base = { item: index, line: item.line };
    if ('error' in item)
      return { ...base, event_id: null, outcome: 'invalid', code: BAD_INPUT, reason: item.error };
    const eventId = eventIdOf(item.envelope);
    const file = files[index];
    const receipt = file === undefined ? undefined : settled.get(file);
    if (!receipt)
      return {
        ...base,
        event_id: eventId,
        outcome: 'pending',
        reason: `still spooled for the next send or collector run: ${heldBecause ?? 'the time ran out'}`,
      };
    const { event_id: answered, ...rest } = receipt;
    return { ...base, ...rest, event_id: answered ?? eventId };
  });
}

function textLine(receipt: SendReceipt): string {
  const where =
    receipt.outcome === 'accepted' ? ` ${receipt.topic}/${receipt.partition}@${receipt.offset}` : '';
  const why =
    receipt.code || receipt.reason ? ` ${[receipt.code, receipt.reason].filter(Boolean).join(' ')}` : '';
  return `${receipt.outcome.padEnd(9)} ${receipt.event_id ?? `(line ${receipt.line})`}${where}${why}`;
}

async function readInput(source: string): Promise<string> {
  if (source !== '-') return readFileSync(source, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const SEND_COMMANDS: Readonly<Record<string, Command>> = {
  send: {
    usage: 'aispm send [FILE|-] [--json]',
    summary: 'Send envelopes (one, a JSON array or NDJSON) through the collector SDK; print each receipt.',
    quiet: true,
    async run(positionals, options) {
      if (positionals.length > 1) throw new UsageError('give one FILE, or - (or nothing) for stdin');
      const source = positionals[0] ?? '-';
      const items = parseSendInput(await readInput(source));
      if (items.length === 0) throw new UsageError(`no envelope in ${source === '-' ? 'stdin' : source}`);
      const config = loadSenderConfig();
      const collector = collectorFromConfig(config, stderrLog());
      const envelopes = items.flatMap((item) => ('envelope' in item ? [item.envelope] : []));
      const written = envelopes.length > 0 ? collector.enqueue(envelopes) : [];
      let next = 0;
      const files = items.map((item) => ('envelope' in item ? written[next++] : undefined));
      const settled: ReceiptsByFile = new Map();
      const report = await collector.send(config.AISPM_COLLECTOR_TIMEOUT_MS, settled);
      const receipts = receiptsFor(items, files, settled, report.heldBecause);
      const count = (outcome: SendReceipt['outcome']) => receipts.filter((r) => r.outcome === outcome).length;
      const summary = {
        accepted: count('accepted'),
        duplicate: count('duplicate'),
        rejected: count('rejected') + count('invalid'),
        pending: count('pending'),
      };
      process.stdout.write(
        options.json
          ? `${JSON.stringify({ ...summary, items: receipts })}\n`
          : `${[
              ...receipts.map(textLine),
              Object.entries(summary)
                .map(([k, v]) => `${k}: ${v}`)
                .join(', '),
            ].join('\n')}\n`,
      );
      const undelivered = summary.rejected + summary.pending;
      if (undelivered > 0)
        throw new Error(`${undelivered} of ${receipts.length} items were not delivered (see their receipts)`);
      return summary;
    },
  },
};
