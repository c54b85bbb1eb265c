import { partitionLag } from '../src/lag';

describe('partitionLag', () => {
  it.each([
    // committed, start, end, lag
    [-1n, 0n, 0n, 0n],
    [-1n, 0n, 5n, 5n],
    [-1n, 3n, 5n, 2n],
    [2n, 0n, 5n, 3n],
    [5n, 0n, 5n, 0n],
    [1n, 3n, 5n, 2n],
    [7n, 0n, 5n, 0n],
  ])('committed %p, start %p, end %p -> %p', (committed, start, end, lag) => {
    expect(partitionLag(committed, start, end)).toBe(lag);
  });
});
