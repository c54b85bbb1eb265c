import type { RecordMetadata, TopicMessages } from 'kafkajs';
import { mergeSends, offsetsOf, SharedProducer, type PartitionedMessage } from '../src/shared-producer';

const message = (partition: number, value = 'v'): PartitionedMessage => ({
  partition,
  value: Buffer.from(value),
});
const answered = (topicName: string, partition: number, baseOffset: string): RecordMetadata => ({
  topicName,
  partition,
  baseOffset,
  errorCode: 0,
});

describe('mergeSends and offsetsOf', () => {
  it('names each topic once, callers in order, and counts each partition on from its base offset', () => {
    const sends = [
      { topic: 'a', messages: [message(0, 'a1'), message(1, 'a2'), message(0, 'a3')] },
      { topic: 'b', messages: [message(0, 'b1')] },
      { topic: 'a', messages: [message(0, 'a4')] },
    ];
    const merged = mergeSends(sends);
    expect(merged.map(({ topic, messages }) => [topic, messages.map((m) => String(m.value))])).toEqual([
      ['a', ['a1', 'a2', 'a3', 'a4']],
      ['b', ['b1']],
    ]);
    const answer = [answered('a', 0, '10'), answered('a', 1, '5'), answered('b', 0, '0')];
    expect(offsetsOf(sends, answer)).toEqual([[10n, 5n, 11n], [0n], [12n]]);
  });

  it('refuses an answer that leaves out a partition it was sent', () => {
    expect(() => offsetsOf([{ topic: 'a', messages: [message(2)] }], [answered('a', 0, '1')])).toThrow(
      'a[2]',
    );
  });
});

/** A sender that answers when told to, recording each request. */
function recordingSender() {
  const requests: { topics: TopicMessages[]; answer: (error?: Error) => void }[] = [];
  const next = new Map<string, number>();
  const sender = {
    sendBatch: ({ topicMessages }: { topicMessages: TopicMessages[] }) =>
      new Promise<RecordMetadata[]>((resolve, reject) => {
        requests.push({
          topics: topicMessages,
          answer: (error) => {
            if (error) return reject(error);
            resolve(
              topicMessages.flatMap(({ topic, messages }) =>
                [...new Set(messages.map((m) => m.partition!))].map((partition) => {
                  const id = `${topic}:${partition}`;
                  const base = next.get(id) ?? 0;
                  next.set(id, base + messages.filter((m) => m.partition === partition).length);
                  return answered(topic, partition, String(base));
                }),
              ),
            );
          },
        });
      }),
  };
  return { sender, requests };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('SharedProducer', () => {
  it('sends at once when idle, and the callers that come meanwhile together in the next request', async () => {
    const { sender, requests } = recordingSender();
    const shared = new SharedProducer(sender, { maxInFlight: 1, maxBytes: 1_000 });
    const first = shared.send('a', [message(0)]);
    await settled();
    expect(requests).toHaveLength(1);
    const later = [
      shared.send('a', [message(0), message(0)]),
      shared.send('b', [message(0)]),
      shared.send('a', [message(0)]),
    ];
    await settled();
    expect(requests).toHaveLength(1);
    requests[0]!.answer();
    expect(await first).toEqual([0n]);
    await settled();
    expect(requests).toHaveLength(2);
    expect(requests[1]!.topics.map(({ topic, messages }) => [topic, messages.length])).toEqual([
      ['a', 3],
      ['b', 1],
    ]);
    requests[1]!.answer();
    expect(await Promise.all(later)).toEqual([[1n, 2n], [0n], [3n]]);
  });

  /** KafkaJS's error for a topic the broker does not have, as it wraps it after its retries. */
  const missingTopic = () =>
    Object.assign(new Error('retries exceeded'), {
      cause: Object.assign(new Error('This server does not host this topic-partition'), {
        type: 'UNKNOWN_TOPIC_OR_PARTITION',
      }),
    });

  it('writes each topic of a request that failed on a missing topic again, so only that topic fails', async () => {
    const { sender, requests } = recordingSender();
    const shared = new SharedProducer(sender, { maxInFlight: 1, maxBytes: 1_000 });
    const first = shared.send('a', [message(0)]);
    const good = [
      shared.send('a', [message(0)]),
      shared.send('b', [message(0)]),
      shared.send('a', [message(0)]),
    ];
    const bad = shared.send('gone', [message(0)]);
    await settled();
    requests[0]!.answer();
    await first;
    await settled();
    requests[1]!.answer(missingTopic());
    await settled();
    expect(
      requests.slice(2).map(({ topics }) => topics.map(({ topic, messages }) => [topic, messages.length])),
    ).toEqual([[['a', 2]], [['b', 1]], [['gone', 1]]]);
    requests[2]!.answer();
    requests[3]!.answer();
    requests[4]!.answer(missingTopic());
    expect(await Promise.all(good)).toEqual([[1n], [0n], [2n]]);
    await expect(bad).rejects.toThrow('retries exceeded');
  });

  it('fails every caller of a request that failed otherwise, writing nothing again', async () => {
    const { sender, requests } = recordingSender();
    const shared = new SharedProducer(sender, { maxInFlight: 1, maxBytes: 1_000 });
    const first = shared.send('a', [message(0)]);
    const later = [shared.send('a', [message(0)]), shared.send('b', [message(0)])];
    await settled();
    requests[0]!.answer();
    await first;
    await settled();
    requests[1]!.answer(new Error('Connection timeout'));
    for (const send of later) await expect(send).rejects.toThrow('Connection timeout');
    expect(requests).toHaveLength(2);
    const after = shared.send('a', [message(0)]);
    await settled();
    requests[2]!.answer();
    expect(await after).toEqual([1n]);
  });
});
