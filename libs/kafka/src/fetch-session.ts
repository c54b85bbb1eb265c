/**
 * Owns incremental fetch sessions (KIP-227) for a stage's consumer, which KafkaJS lacks. Without
 * them every fetch names every partition the instance holds and every answer lists each of them:
 * at a thousand tenants, a thousand partitions per fetch for each stage, encoded, sent, parsed by
 * the broker, answered and decoded even when a handful carry records. In a session the broker
 * remembers the partitions and their fetch positions; a fetch names only the partitions whose
 * position moved, joined or left, and the answer lists only partitions with something new.
 *
 * KafkaJS's consumer still builds its whole request and reads the answer as before: a partition
 * left out of an answer is one with nothing to read, which it treats as an empty batch.
 *
 * TRICKY: the broker keeps each partition's position from the last fetch that named it, so a
 * batch that is not resolved (a dropped round) is read again from the same place, as with full
 * fetches. Any failed fetch ends the session here and the next one opens another; the broker
 * forgets the old one on its own (min.incremental.fetch.session.eviction.ms).
 */
import { requests } from 'kafkajs/src/protocol/requests';
import apiKeys from 'kafkajs/src/protocol/requests/apiKeys';
import { createErrorFromCode } from 'kafkajs/src/protocol/error';
import type { BrokerFetch, BrokerInternals, FetchRequest, FetchResponse, FetchTopic } from './clusters';

/** The epoch that opens a session on a full fetch (KIP-227). */
const OPENING_EPOCH = 0;
/** The epoch of a full fetch outside any session. */
const SESSIONLESS_EPOCH = -1;
/** The broker's answers that the session it was asked about is gone or out of step. */
const SESSION_ERRORS = new Set([70 /* FETCH_SESSION_ID_NOT_FOUND */, 71 /* INVALID_FETCH_SESSION_EPOCH */]);

/** What a fetch in a session sends besides its waits and sizes. */
export interface SessionFetch {
  readonly sessionId: number;
  readonly sessionEpoch: number;
  readonly topics: readonly FetchTopic[];
  readonly forgottenTopics: readonly { readonly topic: string; readonly partitions: readonly number[] }[];
}

/** The position and size asked of one partition, as one comparable value. */
type Asked = string;

function asked(partition: FetchTopic['partitions'][number]): Asked {
  return `${partition.fetchOffset}/${partition.maxBytes}`;
}

function index(topics: readonly FetchTopic[]): Map<string, Map<number, Asked>> {
  return new Map(
    topics.map(({ topic, partitions }) => [
      topic,
      new Map(partitions.map((partition) => [partition.partition, asked(partition)])),
    ]),
  );
}

/** The client's side of one fetch session with one broker. Pure. */
export class FetchSession {
  private id = 0;
  private epoch = OPENING_EPOCH;
  /** What the broker's session holds, once it has confirmed it. */
  private held = new Map<string, Map<number, Asked>>();
  /** What the fetch in flight asks the session to hold. */
  private wanted = new Map<string, Map<number, Asked>>();

  /** The fetch to send for `topics`, everything the consumer wants read now. */
  next(topics: readonly FetchTopic[]): SessionFetch {
    this.wanted = index(topics);
    if (this.id === 0) return { sessionId: 0, sessionEpoch: OPENING_EPOCH, topics, forgottenTopics: [] };
    const changed = topics
      .map(({ topic, partitions }) => {
        const held = this.held.get(topic);
        return { topic, partitions: partitions.filter((p) => held?.get(p.partition) !== asked(p)) };
      })
      .filter(({ partitions }) => partitions.length > 0);
    const forgottenTopics = [...this.held]
      .map(([topic, held]) => {
        const wanted = this.wanted.get(topic);
        return { topic, partitions: [...held.keys()].filter((partition) => !wanted?.has(partition)) };
      })
      .filter(({ partitions }) => partitions.length > 0);
    return { sessionId: this.id, sessionEpoch: this.epoch, topics: changed, forgottenTopics };
  }

  /** The broker answered the last fetch without error, in the session `sessionId` (0: none). */
  answered(sessionId: number): void {
    if (sessionId === 0 || (this.id !== 0 && sessionId !== this.id)) {
      this.end();
      return;
    }
    this.epoch = this.id === 0 ? 1 : nextEpoch(this.epoch);
    this.id = sessionId;
    this.held = this.wanted;
  }

  /** Forgets the session: the next fetch is a full one, opening another. */
  end(): void {
    this.id = 0;
    this.epoch = OPENING_EPOCH;
    this.held = new Map();
  }
}

function nextEpoch(epoch: number): number {
  return epoch === 0x7fffffff ? 1 : epoch + 1;
}

/** KafkaJS's Broker sends a protocol request through this private method (src/broker/index.js). */
const SEND_REQUEST = 'private:Broker:sendRequest';

type Send = (protocolRequest: unknown) => Promise<FetchResponse>;

function sendOf(broker: BrokerInternals): Send {
  const prototype = Object.getPrototypeOf(broker) as Record<symbol, Send>;
  const key = Object.getOwnPropertySymbols(prototype).find((symbol) => symbol.description === SEND_REQUEST);
  // TRICKY: the version is pinned, so only a KafkaJS upgrade can get here; say so at once.
  if (key === undefined)
    throw new Error('KafkaJS no longer has the Broker method fetch-session.ts sends with');
  return prototype[key]!.bind(broker);
}

/**
 * `broker`'s fetch, in a session. A fetch that arrives while another is in flight (KafkaJS
 * fetches from each broker one at a time, so only around a rebalance, if ever) is sent whole,
 * outside the session, so the session's epochs stay in order.
 */
export function fetchInSession(broker: BrokerInternals): BrokerFetch {
  const session = new FetchSession();
  const send = sendOf(broker);
  const protocolFor = (request: FetchRequest & Partial<SessionFetch>) =>
    broker.lookupRequest(apiKeys.Fetch, requests.Fetch)({ ...request, replicaId: -1 });
  const whole = (request: FetchRequest) =>
    send(protocolFor({ ...request, sessionId: 0, sessionEpoch: SESSIONLESS_EPOCH }));
  let inFlight = false;

  const inSession = async (request: FetchRequest, retried: boolean): Promise<FetchResponse> => {
    let response: FetchResponse;
    try {
      response = await send(protocolFor({ ...request, ...session.next(request.topics) }));
    } catch (error) {
      session.end();
      throw error;
    }
    const errorCode = response.errorCode ?? 0;
    if (errorCode === 0) {
      session.answered(response.sessionId ?? 0);
      return response;
    }
    session.end();
    if (SESSION_ERRORS.has(errorCode) && !retried) return inSession(request, true);
    throw createErrorFromCode(errorCode);
  };

  return async (request) => {
    if (inFlight) return whole(request);
    inFlight = true;
    try {
      return await inSession(request, false);
    } finally {
      inFlight = false;
    }
  };
}
