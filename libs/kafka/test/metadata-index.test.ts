import { indexOf, metadataCovers } from '../src/metadata-index';

const metadata = {
  topicMetadata: [
    { topic: 'aispm.a.raw', partitionMetadata: [{ partitionId: 0 }] },
    { topic: 'aispm.b.raw', partitionMetadata: [{ partitionId: 0 }, { partitionId: 1 }] },
  ],
};
const pool = (overrides: object) => ({
  metadata,
  metadataExpireAt: 2000,
  metadataMaxAge: 1000,
  refreshMetadata: async () => undefined,
  refreshMetadataIfNecessary: async () => undefined,
  ...overrides,
});

describe('metadataCovers', () => {
  it('answers from fresh metadata that lists every topic asked about', () => {
    expect(metadataCovers(pool({}), ['aispm.a.raw', 'aispm.b.raw'], 1000)).toBe(true);
    expect(metadataCovers(pool({}), [], 1000)).toBe(true);
  });

  it('refreshes for a topic not listed, for expired metadata and for none', () => {
    expect(metadataCovers(pool({}), ['aispm.a.raw', 'aispm.c.raw'], 1000)).toBe(false);
    expect(metadataCovers(pool({}), ['aispm.a.raw'], 2001)).toBe(false);
    expect(metadataCovers(pool({ metadata: null }), ['aispm.a.raw'], 1000)).toBe(false);
    expect(metadataCovers(pool({ metadataExpireAt: null }), ['aispm.a.raw'], 1000)).toBe(false);
  });
});

describe('metadataCovers with a max age of its own', () => {
  it('trusts metadata fetched at most that long ago, whatever the client would', () => {
    const admins = pool({ metadataExpireAt: 1000, metadataMaxAge: 0 });
    expect(metadataCovers(admins, ['aispm.a.raw'], 1001)).toBe(false);
    expect(metadataCovers(admins, ['aispm.a.raw'], 31_000, 30_000)).toBe(true);
    expect(metadataCovers(admins, ['aispm.a.raw'], 31_001, 30_000)).toBe(false);
    expect(metadataCovers(admins, ['aispm.c.raw'], 1001, 30_000)).toBe(false);
  });
});

describe('indexOf', () => {
  it('finds each topic of a response, and builds the index once per response', () => {
    const index = indexOf(metadata);
    expect(index.get('aispm.b.raw')?.partitionMetadata).toHaveLength(2);
    expect(index.get('aispm.c.raw')).toBeUndefined();
    expect(indexOf(metadata)).toBe(index);
    expect(indexOf({ topicMetadata: [] })).not.toBe(index);
  });
});
