/**
 * Owns how KafkaJS errors are classified. After its own retries KafkaJS throws a non-retriable
 * KafkaJSNumberOfRetriesExceeded whose `cause` is the error it gave up on, so each question is
 * asked of the error and of the errors it wraps.
 */

/** How many wrapped errors are looked at; KafkaJS nests one or two. */
const MAX_DEPTH = 4;

function someInChain(
  error: unknown,
  test: (fields: { type?: unknown; retriable?: unknown }) => boolean,
): boolean {
  let current = error;
  for (let depth = 0; depth <= MAX_DEPTH && current !== undefined && current !== null; depth += 1) {
    const fields = current as { type?: unknown; retriable?: unknown; cause?: unknown };
    if (test(fields)) return true;
    current = fields.cause;
  }
  return false;
}

/** Whether KafkaJS calls the error, or one it wraps, worth retrying. */
export function retriableKafkaError(error: unknown): boolean {
  return someInChain(error, ({ retriable }) => retriable === true);
}

/** Whether KafkaJS failed because a topic does not exist. */
export function isUnknownTopic(error: unknown): boolean {
  return someInChain(error, ({ type }) => type === 'UNKNOWN_TOPIC_OR_PARTITION');
}

/**
 * Whether a produce failed on a topic that is not there: the broker said so, or KafkaJS found no
 * metadata for it (a topic deleted since the producer learnt it).
 */
export function isMissingTopic(error: unknown): boolean {
  return (
    isUnknownTopic(error) ||
    someInChain(error, (fields) => (fields as { name?: unknown }).name === 'KafkaJSMetadataNotLoaded')
  );
}

/** KafkaJS's names for answers that mean the client's metadata is out of date. */
const STALE_METADATA = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_COORDINATOR',
]);

/**
 * Whether the error, or one it wraps, is a broker's answer that a metadata refresh can cure (a
 * topic deleted, a leader or coordinator moved), as opposed to a broker that does not answer.
 */
export function isStaleMetadata(error: unknown): boolean {
  return someInChain(error, ({ type }) => typeof type === 'string' && STALE_METADATA.has(type));
}

/**
 * Whether the transaction coordinator refused a transactional request because the producer's
 * previous transaction is still finishing (its commit markers being written).
 */
export function isConcurrentTransactions(error: unknown): boolean {
  return someInChain(error, ({ type }) => type === 'CONCURRENT_TRANSACTIONS');
}
