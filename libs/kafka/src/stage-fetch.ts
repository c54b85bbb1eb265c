/**
 * Owns how a stage's consumer fetches from each broker: in an incremental fetch session
 * (fetch-session.ts), paced while idle (idle-fetch.ts). Both wrap the Broker's fetch through the
 * one KafkaJS Cluster hook (clusters.ts); KafkaJS's consumer builds its requests and reads the
 * answers as it always does.
 */
import type { Consumer } from 'kafkajs';
import { clusterOf, type BrokerInternals } from './clusters';
import { fetchInSession } from './fetch-session';
import { IDLE_FETCH_WAIT_MS, paced } from './idle-fetch';

/** Has `consumer` (of a client made by createKafka) fetch in sessions, and less while idle. */
export function tuneStageFetches(consumer: Consumer, idleWaitMs = IDLE_FETCH_WAIT_MS): void {
  const cluster = clusterOf(consumer);
  const tuned = new WeakSet<BrokerInternals>();
  const findBroker = cluster.findBroker.bind(cluster);
  cluster.findBroker = async (request) => {
    const broker = await findBroker(request);
    if (!tuned.has(broker)) {
      tuned.add(broker);
      broker.fetch = paced(fetchInSession(broker), idleWaitMs);
    }
    return broker;
  };
}
