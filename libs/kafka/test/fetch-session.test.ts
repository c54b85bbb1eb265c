import { FetchSession } from '../src/fetch-session';

const at = (fetchOffset: string, partition = 0) => ({ partition, fetchOffset, maxBytes: 1_048_576 });
const topic = (name: string, ...partitions: ReturnType<typeof at>[]) => ({ topic: name, partitions });

describe('FetchSession', () => {
  it('opens with a full fetch at epoch 0', () => {
    const wanted = [topic('a', at('5'))];
    expect(new FetchSession().next(wanted)).toEqual({
      sessionId: 0,
      sessionEpoch: 0,
      topics: wanted,
      forgottenTopics: [],
    });
  });

  it('then names only the partitions whose position moved, at the next epochs', () => {
    const session = new FetchSession();
    session.next([topic('a', at('5'), at('7', 1)), topic('b', at('0'))]);
    session.answered(42);

    expect(session.next([topic('a', at('5'), at('9', 1)), topic('b', at('0'))])).toEqual({
      sessionId: 42,
      sessionEpoch: 1,
      topics: [topic('a', at('9', 1))],
      forgottenTopics: [],
    });
    session.answered(42);
    expect(session.next([topic('a', at('5'), at('9', 1)), topic('b', at('0'))])).toMatchObject({
      sessionEpoch: 2,
      topics: [],
    });
  });

  it('names partitions that join, and forgets those that leave', () => {
    const session = new FetchSession();
    session.next([topic('a', at('5'), at('7', 1)), topic('b', at('0'))]);
    session.answered(42);

    expect(session.next([topic('a', at('5')), topic('c', at('3'))])).toEqual({
      sessionId: 42,
      sessionEpoch: 1,
      topics: [topic('c', at('3'))],
      forgottenTopics: [
        { topic: 'a', partitions: [1] },
        { topic: 'b', partitions: [0] },
      ],
    });
  });

  it('compares against what the broker confirmed, so an unanswered change is sent again', () => {
    const session = new FetchSession();
    session.next([topic('a', at('5'))]);
    session.answered(42);
    session.next([topic('a', at('6'))]);
    session.end();

    expect(session.next([topic('a', at('6'))])).toMatchObject({
      sessionId: 0,
      sessionEpoch: 0,
      topics: [topic('a', at('6'))],
    });
  });

  it('stays with full fetches while the broker opens no session', () => {
    const session = new FetchSession();
    session.next([topic('a', at('5'))]);
    session.answered(0);
    expect(session.next([topic('a', at('5'))])).toMatchObject({
      sessionId: 0,
      sessionEpoch: 0,
      topics: [topic('a', at('5'))],
    });
  });

  it('starts over when an answer names another session', () => {
    const session = new FetchSession();
    session.next([topic('a', at('5'))]);
    session.answered(42);
    session.next([topic('a', at('5'))]);
    session.answered(43);
    expect(session.next([topic('a', at('5'))])).toMatchObject({ sessionId: 0, sessionEpoch: 0 });
  });
});
