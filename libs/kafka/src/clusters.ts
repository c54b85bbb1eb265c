/**
 * Owns the one hook into KafkaJS 2.2.4 (the last release, pinned in package.json) that its public
 * API lacks: every producer, consumer and admin gets a Cluster of its own from a private factory
 * on the client, and the repairs in this library (deleted-topics.ts, metadata-index.ts) and the
 * bulk offset reads (bulk-offsets.ts) need each Cluster as it is made. Applied by createKafka to
 * each client it makes, so a client made elsewhere is left as KafkaJS made it.
 */
import type { Kafka } from 'kafkajs';

/** What KafkaJS 2.2.4's client calls the factory of its Clusters (src/index.js, PRIVATE.CREATE_CLUSTER). */
const CREATE_CLUSTER = 'private:Kafka:createCluster';

/** Has `visit` see every Cluster `kafka` makes from now on, before the client uses it. */
export function onEachCluster<C>(kafka: Kafka, visit: (cluster: C) => void): void {
  const client = kafka as unknown as Record<symbol, (options: object) => C>;
  const factory = Object.getOwnPropertySymbols(client).find((key) => key.description === CREATE_CLUSTER);
  // TRICKY: a KafkaJS that makes its Clusters some other way would silently drop the repairs;
  // failing at the first client made says so at once (the version is pinned, so only an upgrade
  // can get here).
  if (factory === undefined) throw new Error('KafkaJS no longer has the Cluster factory clusters.ts hooks');
  const create = client[factory]!;
  client[factory] = (options) => {
    const cluster = create(options);
    visit(cluster);
    return cluster;
  };
}
