/**
 * Owns how a stage's consumer waits for records. A stage asks the broker to hold each fetch until
 * AISPM_STAGE_FETCH_MIN_BYTES are waiting or AISPM_STAGE_FETCH_MAX_WAIT_MS has passed, so that a
 * round (one transaction per shard) carries more under load. Idle, that same request is answered
 * empty ten times a second, and for each the broker reads every partition the instance holds,
 * in a fetch session too (fetch-session.ts): at a thousand tenants, a thousand partitions per
 * fetch for each stage, most of the broker's idle CPU. So once fetches have come back empty for a while,
 * the next one asks for the first byte and waits up to the idle wait instead: the broker answers
 * as soon as a record arrives, so the first record after a quiet spell is not held back, and the
 * fetch after it batches again.
 *
 * TRICKY: one empty fetch is not a quiet spell. Under load a stage reading a transactional topic
 * can meet an empty fetch between its upstream's commits; answering it with a first-byte fetch
 * would make the next round a transaction for a handful of records. Only a run of empty fetches
 * counts.
 *
 * The price: a consumer notices a rebalance or a stop between fetches, so up to the idle wait
 * later while idle.
 */
import type { BrokerFetch, FetchRequest, FetchResponse } from './clusters';

/** How long an idle stage's fetch waits for its first byte. */
export const IDLE_FETCH_WAIT_MS = 1000;

/** How many fetches in a row must come back empty before a consumer counts as idle. */
export const EMPTY_FETCHES_BEFORE_IDLE = 10;

/** What one broker's next fetch asks for, from what the last ones brought. */
export class FetchPacer {
  private emptyInARow = 0;

  constructor(
    private readonly idleWaitMs: number,
    private readonly emptyBeforeIdle = EMPTY_FETCHES_BEFORE_IDLE,
  ) {}

  /** The request to send: as asked while records flow; the first byte, waited for longer, while idle. */
  next(request: FetchRequest): FetchRequest {
    if (this.emptyInARow < this.emptyBeforeIdle) return request;
    return { ...request, minBytes: 1, maxWaitTime: Math.max(request.maxWaitTime, this.idleWaitMs) };
  }

  /** Records what a fetch brought. */
  observe(response: FetchResponse): void {
    const empty = !response.responses.some(({ partitions }) =>
      partitions.some(({ messages }) => messages.length > 0),
    );
    this.emptyInARow = empty ? this.emptyInARow + 1 : 0;
  }
}

/** `fetch` of one broker, paced: a pacer each, since each leader is fetched from on its own. */
export function paced(fetch: BrokerFetch, idleWaitMs = IDLE_FETCH_WAIT_MS): BrokerFetch {
  const pacer = new FetchPacer(idleWaitMs);
  return async (request) => {
    const response = await fetch(pacer.next(request));
    pacer.observe(response);
    return response;
  };
}
