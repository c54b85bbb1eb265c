import { produceChunks } from '../src/offsets';

const message = (kib: number) => ({ value: Buffer.alloc(kib * 1024) });

describe('produceChunks', () => {
  it('keeps a small batch in one request', () => {
    const chunks = produceChunks([{ topic: 'a', messages: [message(1), message(1)] }]);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toEqual([{ topic: 'a', messages: [message(1), message(1)] }]);
  });

  it('splits values past 512 KiB into consecutive requests, keeping order and topics', () => {
    const a = Array.from({ length: 5 }, () => message(200));
    const b = [message(100), message(300)];
    const chunks = produceChunks([
      { topic: 'a', messages: a },
      { topic: 'b', messages: b },
    ]);
    for (const chunk of chunks) {
      const bytes = chunk.flatMap(({ messages }) => messages).reduce((sum, m) => sum + m.value.length, 0);
      expect(bytes).toBeLessThanOrEqual(512 * 1024);
    }
    const flattened = chunks.flatMap((chunk) =>
      chunk.flatMap(({ topic, messages }) => messages.map((m) => `${topic}:${m.value.length}`)),
    );
    expect(flattened).toEqual([
      ...a.map((m) => `a:${m.value.length}`),
      ...b.map((m) => `b:${m.value.length}`),
    ]);
  });

  it('sends a single oversized value on its own rather than dropping it', () => {
    const chunks = produceChunks([{ topic: 'a', messages: [message(1), message(900), message(1)] }]);
    expect(chunks.map((chunk) => chunk[0]!.messages.length)).toEqual([1, 1, 1]);
  });
});
