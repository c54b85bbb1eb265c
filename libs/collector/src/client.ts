/**
 * Owns delivery (DESIGN §16): envelopes go to the spool first, then to the gateway's batch
 * endpoint in signed batches. Each item the gateway settles (accepted, duplicate, or refused for
 * good) leaves the spool; a 429, a 503, a 5xx or a network failure is retried with exponential
 * backoff and full jitter, never sooner than `Retry-After`, until the flush deadline, after which
 * the rest stays spooled for the next flush. Nothing here throws at the caller or waits past the
 * deadline: the observed tool must never be blocked or broken by its collector.
 */
import { SIGNATURE_HEADER, signRequest, TIMESTAMP_HEADER } from '@aispm/auth';
import type { Envelope } from '@aispm/contracts';
import { buildEnvelope, type Draft, type EnvelopeSettings } from './envelope';
import type { Log } from './log';
import type { Spool } from './spool';

export const BATCH_PATH = '/enterprise/aispm/events/batch';

/** How to reach the gateway. */
export interface GatewayTarget {
  readonly url: string;
  /** An API key, or a workload-identity token (a JWT); sent as `Authorization: Bearer`. */
  readonly credential: string;
  /** Signs every request with the v1 scheme when set. */
  readonly signingSecret?: string;
}

export interface CollectorOptions {
  readonly target: GatewayTarget;
  readonly settings: EnvelopeSettings;
  readonly spool: Spool;
  readonly log: Log;
  readonly batchSize?: number;
  /** Longest single request, in ms. */
  readonly requestTimeoutMs?: number;
  /** For tests: the clock, the jitter source and the wait. */
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What the gateway made of one envelope: its item receipt, less the index. */
export interface DeliveryReceipt {
  readonly outcome: 'accepted' | 'duplicate' | 'rejected';
  readonly event_id?: string | null;
  readonly code?: string;
  readonly reason?: string;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string;
}

/** What one flush did. */
export interface FlushReport {
  /** Accepted or duplicate: the gateway has them. */
  readonly delivered: number;
  /** Refused for good (logged with their reason) and dropped. */
  readonly refused: number;
  /** Still spooled for a later flush. */
  readonly pending: number;
}

const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 30_000;

/**
 * The wait before retry number `attempt` (0 for the first retry): full jitter over an exponential
 * ceiling, but never less than what the gateway asked for in `Retry-After`.
 */
export function backoffMs(attempt: number, retryAfterMs: number | undefined, random: () => number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.max(retryAfterMs ?? 0, Math.floor(random() * ceiling));
}

/** `Retry-After` in ms: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

type Outcome =
  | { readonly kind: 'settled'; readonly items: readonly ItemReceipt[] }
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly kind: 'hold'; readonly reason: string };

interface ItemReceipt extends DeliveryReceipt {
  readonly index: number;
}

/** What became of envelopes a caller spooled itself, by spool file. */
export type ReceiptsByFile = Map<string, DeliveryReceipt>;

/** Why what is still spooled after a flush was not delivered. */
export interface SendReport extends FlushReport {
  readonly heldBecause?: string;
}

// Reusing a key with other content means the event is already there in another form: nothing
// a retry can change, and nothing lost.
const SETTLED_CODES = new Set(['GW_IDEMPOTENCY_CONFLICT']);

function receiptsOf(text: string): ItemReceipt[] | undefined {
  try {
    const items = (JSON.parse(text) as { items?: unknown }).items;
    return Array.isArray(items) ? (items as ItemReceipt[]) : undefined;
  } catch {
    return undefined;
  }
}

export class Collector {
  private readonly batchSize: number;
  private readonly requestTimeoutMs: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: CollectorOptions) {
    this.batchSize = options.batchSize ?? 100;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 2_000;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()));
  }

  /** Builds the envelopes of `drafts` and spools them; returns how many were spooled. Never throws. */
  record(drafts: readonly Draft[]): number {
    try {
      return this.enqueue(drafts.map((draft) => buildEnvelope(draft, this.options.settings))).length;
    } catch (error) {
      this.options.log('error', 'could not spool events; they are lost', {
        err: String(error),
        events: drafts.length,
      });
      return 0;
    }
  }

  /** Spools complete envelopes as they are; returns their spool files, in order. Throws if it cannot. */
  enqueue(envelopes: readonly Envelope[]): string[] {
    return this.options.spool.add(envelopes).files;
  }

  /** Sends what is spooled until the spool is empty or `timeoutMs` has passed. Never throws. */
  async flush(timeoutMs: number): Promise<FlushReport> {
    const { heldBecause: _, ...report } = await this.send(timeoutMs, new Map());
    return report;
  }

  /**
   * Flushes like `flush`, and writes the gateway's receipt of every envelope it settled into
   * `receipts`, by spool file; `heldBecause` says why the rest is still spooled.
   */
  async send(timeoutMs: number, receipts: ReceiptsByFile): Promise<SendReport> {
    const deadline = Date.now() + timeoutMs;
    let delivered = 0;
    let refused = 0;
    let heldBecause: string | undefined;
    try {
      for (;;) {
        const entries = this.options.spool.take(this.batchSize);
        if (entries.length === 0) break;
        const outcome = await this.deliver(
          entries.map((entry) => entry.envelope),
          deadline,
        );
        if (outcome.kind !== 'settled') {
          heldBecause = outcome.reason;
          this.options.log('warn', 'gateway unavailable; events stay spooled', {
            reason: outcome.reason,
            spooled: this.options.spool.size(),
          });
          break;
        }
        let refusedHere = 0;
        for (const { index, ...receipt } of outcome.items) {
          const entry = entries[index];
          if (entry) receipts.set(entry.file, receipt);
          if (receipt.outcome !== 'rejected' || SETTLED_CODES.has(receipt.code ?? '')) continue;
          refusedHere += 1;
          this.options.log('error', 'the gateway refused an event; dropped', {
            event_id: entry?.envelope.event.event_id,
            code: receipt.code,
            reason: receipt.reason,
          });
        }
        refused += refusedHere;
        delivered += entries.length - refusedHere;
        this.options.spool.remove(entries.map((entry) => entry.file));
      }
    } catch (error) {
      heldBecause = `flush failed: ${String(error)}`;
      this.options.log('error', 'flush failed; events stay spooled', { err: String(error) });
    }
    let pending = 0;
    try {
      pending = this.options.spool.size();
    } catch {
      // An unreadable spool directory was logged by the failure above.
    }
    return { delivered, refused, pending, ...(heldBecause === undefined ? {} : { heldBecause }) };
  }

  /** Posts one batch, retrying while the deadline allows; `retry` or `hold` leaves it spooled. */
  private async deliver(envelopes: readonly Envelope[], deadline: number): Promise<Outcome> {
    for (let attempt = 0; ; attempt += 1) {
      const outcome = await this.post(envelopes, attempt, deadline);
      if (outcome.kind !== 'retry') return outcome;
      const wait = backoffMs(attempt, outcome.retryAfterMs, this.random);
      if (Date.now() + wait >= deadline) return outcome;
      await this.sleep(wait);
    }
  }

  private async post(envelopes: readonly Envelope[], attempt: number, deadline: number): Promise<Outcome> {
    const { target } = this.options;
    // retry_count is outside the content hash, so a retry is still the same event to the gateway.
    const body = JSON.stringify(
      envelopes.map((envelope) => ({
        ...envelope,
        transport: { ...envelope.transport, retry_count: attempt },
      })),
    );
    const headers: Record<string, string> = {
      authorization: `Bearer ${target.credential}`,
      'content-type': 'application/json',
    };
    if (target.signingSecret) {
      const timestamp = Math.floor(Date.now() / 1000);
      headers[TIMESTAMP_HEADER.toLowerCase()] = String(timestamp);
      headers[SIGNATURE_HEADER.toLowerCase()] = signRequest({
        secret: target.signingSecret,
        timestamp,
        method: 'POST',
        path: BATCH_PATH,
        body,
      });
    }
    let response: Response;
    try {
      response = await fetch(`${target.url}${BATCH_PATH}`, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(Math.max(1, Math.min(this.requestTimeoutMs, deadline - Date.now()))),
      });
    } catch (error) {
      const cause = (error as Error).cause ?? error;
      // Nothing listens: the gateway is down, and retrying within this run would only hold the
      // tool up. The events wait in the spool for the next run.
      if ((cause as NodeJS.ErrnoException).code === 'ECONNREFUSED')
        return { kind: 'hold', reason: 'the gateway refused the connection' };
      return { kind: 'retry', reason: `request failed: ${String(cause)}` };
    }
    const text = await response.text().catch(() => '');
    const status = response.status;
    const items = receiptsOf(text);
    if ((status === 202 || status === 207 || status === 400) && items) {
      return { kind: 'settled', items };
    }
    if (status === 429 || status === 408 || status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
      return {
        kind: 'retry',
        reason: `HTTP ${status}`,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    }
    // 401, 403, 413, 415: the credential or the configuration is wrong. Keep the events until
    // someone fixes it; the bounded spool keeps this from growing without end.
    return { kind: 'hold', reason: `HTTP ${status}: ${text.slice(0, 300)}` };
  }
}
