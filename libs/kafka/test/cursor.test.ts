import { formatCursor, parseCursor, startPositions } from '../src/cursor';

describe('stream cursor', () => {
  it('round-trips, sorted by partition', () => {
    const text = formatCursor(
      new Map([
        [2, 0n],
        [0, 15n],
        [1, 9007199254740993n],
      ]),
    );
    expect(text).toBe('0:15.1:9007199254740993.2:0');
    expect(parseCursor(text)).toEqual(
      new Map([
        [0, 15n],
        [1, 9007199254740993n],
        [2, 0n],
      ]),
    );
  });

  it.each(['', '0', '0:1.0:2', '0:-1', 'a:1', '0:1;1:2', '0:1.'])('refuses %j', (text) => {
    expect(parseCursor(text)).toBeUndefined();
  });

  const ranges = [
    { partition: 0, low: '0', high: '10' },
    { partition: 1, low: '5', high: '8' },
    { partition: 2, low: '0', high: '3' },
  ];

  it('starts at the end without a cursor', () => {
    expect(startPositions(undefined, ranges)).toEqual({
      positions: new Map([
        [0, 10n],
        [1, 8n],
        [2, 3n],
      ]),
      gap: false,
    });
  });

  it('resumes at the cursor, from the start of partitions it does not name, and reports a gap', () => {
    expect(
      startPositions(
        new Map([
          [0, 4n],
          [1, 7n],
        ]),
        ranges,
      ),
    ).toEqual({
      positions: new Map([
        [0, 4n],
        [1, 7n],
        [2, 0n],
      ]),
      gap: false,
    });
    expect(
      startPositions(
        new Map([
          [0, 40n],
          [1, 2n],
          [2, 1n],
        ]),
        ranges,
      ),
    ).toEqual({
      positions: new Map([
        [0, 10n],
        [1, 5n],
        [2, 1n],
      ]),
      gap: true,
    });
  });
});
