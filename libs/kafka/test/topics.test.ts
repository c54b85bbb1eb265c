import { KafkaJSProtocolError, type Admin } from 'kafkajs';
import { ensureTopics } from '../src/client';

/** An admin whose topic list and create answers are scripted, one per call. */
function scriptedAdmin(lists: string[][], creates: Array<Error | boolean>) {
  const calls = { list: 0, create: [] as string[][] };
  const admin = {
    listTopics: async () => lists[Math.min(calls.list++, lists.length - 1)],
    createTopics: async ({ topics }: { topics: Array<{ topic: string }> }) => {
      calls.create.push(topics.map((t) => t.topic));
      const answer = creates[calls.create.length - 1] ?? true;
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as unknown as Admin;
  return { admin, calls };
}

const notHostedYet = () =>
  new KafkaJSProtocolError({
    type: 'UNKNOWN_TOPIC_OR_PARTITION',
    code: 3,
    retriable: true,
    message: 'This server does not host this topic-partition',
  });

describe('ensureTopics', () => {
  it('creates only the missing topics', async () => {
    const { admin, calls } = scriptedAdmin([['a']], [true]);
    await expect(ensureTopics(admin, [{ topic: 'a' }, { topic: 'b' }])).resolves.toEqual(['b']);
    expect(calls.create).toEqual([['b']]);
  });

  it('looks again when a broker has not heard of the topic it just created', async () => {
    const { admin, calls } = scriptedAdmin([[], ['a']], [notHostedYet()]);
    await expect(ensureTopics(admin, [{ topic: 'a' }])).resolves.toEqual(['a']);
    expect(calls.create).toEqual([['a']]);
  });

  it('fails at once on an error that waiting does not cure', async () => {
    const refused = new KafkaJSProtocolError({
      type: 'TOPIC_AUTHORIZATION_FAILED',
      code: 29,
      retriable: false,
      message: 'Not authorized to access topics',
    });
    const { admin, calls } = scriptedAdmin([[]], [refused]);
    await expect(ensureTopics(admin, [{ topic: 'a' }])).rejects.toBe(refused);
    expect(calls.create).toHaveLength(1);
  });
});
