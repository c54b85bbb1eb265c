import { canonicalJson, chainHash, GENESIS_HASH, verifyChain, type ChainLink } from '../src';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: true, e: null }], c: 'x' }, u: undefined })).toBe(
      '{"a":{"c":"x","d":[2,{"e":null,"f":true}]},"b":1}',
    );
  });

  it('refuses numbers that could serialize two ways', () => {
    expect(() => canonicalJson({ n: 1.5 })).toThrow(RangeError);
    expect(() => canonicalJson(2 ** 60)).toThrow(RangeError);
  });

  it('orders keys by code unit, integer-like and non-ASCII keys included, and only drops undefined', () => {
    expect(canonicalJson({ '10': 1, '9': 2, é: 3, Z: 4, a: 5, '': 6, n: null, f: false, z: 0 })).toBe(
      '{"":6,"10":1,"9":2,"Z":4,"a":5,"f":false,"n":null,"z":0,"é":3}',
    );
    expect(canonicalJson({ '"quoted"\n': 'line\nbreak' })).toBe('{"\\"quoted\\"\\n":"line\\nbreak"}');
    expect(canonicalJson({ only: undefined })).toBe('{}');
  });
});

describe('verifyChain', () => {
  function chain(records: object[]): ChainLink[] {
    let prev = GENESIS_HASH;
    return records.map((record, i) => {
      const recordHash = chainHash(prev, record);
      const link = { position: String(i), prevHash: prev, recordHash, record };
      prev = recordHash;
      return link;
    });
  }

  it('holds for an intact chain and says from where to where', () => {
    expect(verifyChain(chain([{ a: 1 }, { a: 2 }, { a: 3 }]))).toEqual({
      ok: true,
      from: '0',
      to: '2',
      links: 3,
    });
  });

  it('names a changed record', () => {
    const links = chain([{ a: 1 }, { a: 2 }, { a: 3 }]);
    links[1] = { ...links[1]!, record: { a: 20 } };
    expect(verifyChain(links)).toMatchObject({
      ok: false,
      position: '1',
      reason: expect.stringContaining('content'),
    });
  });

  it('names a removed record', () => {
    const links = chain([{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(verifyChain([links[0]!, links[2]!])).toMatchObject({ ok: false, position: '2' });
  });
});
